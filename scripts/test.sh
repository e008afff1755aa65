#!/usr/bin/env bash
# Set up (idempotent) and run every check: formatting, clippy (all features and core alone),
# the core's tests without native libraries, then all tests with MuJoCo, rendering, ROS 2 ...
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
. scripts/lib.sh
step() { printf '\n\033[1;34m== %s\033[0m\n' "$*"; }
step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path python/Cargo.toml -- --check
step "clippy (features: $SATTVA_FEATURES)"
cargo clippy --all-targets --features "$SATTVA_FEATURES" -- -D warnings
step "clippy (core, no native features)"
cargo clippy --all-targets --no-default-features -- -D warnings
step "clippy (Python bindings, python/)"
cargo clippy --manifest-path python/Cargo.toml --all-targets -- -D warnings
step "tests: core without native libraries"
cargo test --no-default-features
if [[ "$SATTVA_FEATURES" == *ros2* ]]; then
  step "colcon build of ros2_ws (the installed-layout test checks it)"
  bash scripts/colcon_build.sh
fi
step "tests: all (features: $SATTVA_FEATURES)"
# The full-feature run must run every test: a test that could not run prints
# `SKIPPED: <test>: <reason>` (tests/common/mod.rs `skipped`), and #[ignore] is not used.
mkdir -p target
TEST_LOG=target/test-all-features.log
cargo test --features "$SATTVA_FEATURES" 2>&1 | tee "$TEST_LOG"
if grep -a 'SKIPPED: ' "$TEST_LOG"; then
  echo "error: tests were skipped in the full-feature run (lines above; log: $TEST_LOG)" >&2
  exit 1
fi
if grep -aE '^test result: .* [1-9][0-9]* ignored' "$TEST_LOG"; then
  echo "error: ignored tests in the full-feature run (log: $TEST_LOG)" >&2
  exit 1
fi
step "pytest python/tests (the Python package against this checkout's sattva)"
third_party/venv/bin/python -m pytest -q python/tests
