#!/usr/bin/env bash
# Builds the Python package `sattva` (this directory: PyO3 + maturin) into a wheel for the venv's
# CPython (3.11 here) and prints its path; `--install` also installs it into third_party/venv.
#   bash python/build.sh            -> python/target/wheels/sattva-0.1.0-cp311-cp311-manylinux_*.whl
# Uses no rustflags from .cargo/config.toml: those bake the machine's ROS/MuJoCo library dirs into
# binaries as rpath, which the extension module does not need (it links no native library).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
[ -d "$HOME/.cargo/bin" ] && PATH=$HOME/.cargo/bin:$PATH
PY=${SATTVA_PYTHON:-$ROOT/third_party/venv/bin/python}
MATURIN=$(dirname "$PY")/maturin
[ -x "$MATURIN" ] || MATURIN=maturin
rm -f "$HERE"/target/wheels/sattva-*.whl
RUSTFLAGS="" "$MATURIN" build --release -q -m "$HERE/Cargo.toml" -i "$PY" >&2
WHEEL=$(ls "$HERE"/target/wheels/sattva-*.whl)
if [ "${1:-}" = --install ]; then
  "$PY" -m pip install -q --force-reinstall --no-deps "$WHEEL" >&2
fi
echo "$WHEEL"
