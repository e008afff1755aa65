# Shared by scripts/sim.sh and scripts/test.sh: toolchain check and feature set.
# shellcheck shell=bash
[ -d "$HOME/.cargo/bin" ] && PATH=$HOME/.cargo/bin:$PATH
if ! command -v cargo >/dev/null; then
  echo "[sattva] Rust is not installed. Install it with rustup (https://rustup.rs), then re-run." >&2
  exit 1
fi
# mujoco-rs 7 needs a recent toolchain
rv=$(rustc --version | awk '{print $2}')
if [ "$(printf '%s\n1.95.0\n' "$rv" | sort -V | head -1)" != "1.95.0" ]; then
  echo "[sattva] rustc $rv is too old: 1.95 or newer is needed (rustup update stable)." >&2
  exit 1
fi
# Features built and tested by default: everything this machine can run.
SATTVA_FEATURES=${SATTVA_FEATURES:-mujoco,render,ros2,realsense,opencv}
export SATTVA_FEATURES
