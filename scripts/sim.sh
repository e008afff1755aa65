#!/usr/bin/env bash
# Set up (idempotent) and run the agent in MuJoCo simulation. Extra arguments go to `sattva sim`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh
. scripts/lib.sh
cargo run --release --features "$SATTVA_FEATURES" -- sim "$@"
