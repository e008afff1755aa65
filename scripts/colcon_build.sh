#!/usr/bin/env bash
# Builds the colcon workspace ros2_ws (sattva_msgs + the `sattva` package = this crate with its
# `ros2` feature) into ros2_ws/install, the way a ROS 2 user would: `colcon build`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT/ros2_ws"
. "$ROOT/scripts/env.sh"
unset CMAKE_PREFIX_PATH
echo "[colcon] building ros2_ws (sattva_msgs, sattva)" >&2
colcon build --packages-select sattva_msgs sattva --cargo-args --features ros2 \
  --event-handlers console_cohesion- > "$ROOT/ros2_ws/colcon-build.log" 2>&1 \
  || { tail -60 "$ROOT/ros2_ws/colcon-build.log" >&2; echo "[colcon] failed (ros2_ws/colcon-build.log)" >&2; exit 1; }
echo "[colcon] installed to ros2_ws/install" >&2
