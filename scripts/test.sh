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
cargo test --features "$SATTVA_FEATURES"
step "pytest python/tests (the Python package against this checkout's sattva)"
third_party/venv/bin/python -m pytest -q python/tests
