#!/usr/bin/env bash
# librealsense2 for the `realsense` feature (realsense-sys =2.56.5 finds it through pkg-config `realsense2`).
#
# - A system librealsense (e.g. Intel's packages on a robot) found by pkg-config is used as is.
# - Otherwise the pinned, hash-checked PyPI wheel pyrealsense2==2.56.5.9235 is turned into a linkable
#   library: its extension module embeds librealsense statically and exports the whole rs2_* C API.
#   It is copied to third_party/librealsense-2.56.5/lib/librealsense2.so.2.56.5, given the SONAME
#   librealsense2.so.2.56 and a DT_NEEDED on libpython3.11 (its ~155 Py* symbols are undefined; the
#   interpreter is never started, libpython only satisfies the loader), plus symlinks and realsense2.pc.
#   No headers: realsense-sys ships pre-generated bindings for 2.56.5.
#
# Idempotent: a stamp (wheel hash) makes a re-run a no-op. Logs go to stderr; the only line on stdout is
# the library directory, so scripts/setup.sh can do `RS_LIB=$(scripts/setup_librealsense.sh)`.
# Runtime deps (Debian): libpython3.11 libusb-1.0-0 libudev1; build-time: patchelf pkg-config.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Physical path: third_party may be a symlink shared between checkouts; the .pc must outlive this one.
mkdir -p "$ROOT/third_party"
TP=$(cd "$ROOT/third_party" && pwd -P)
RS_VERSION=2.56.5
RS_SOVER=2.56
RS_WHEEL_VERSION=2.56.5.9235
RS_WHEEL=pyrealsense2-$RS_WHEEL_VERSION-cp311-cp311-manylinux1_x86_64.whl
RS_WHEEL_SHA256=76d384ea99f257b4697a82cb3581b05cc69fadfd0701021ad76da098a3e240f0
RS_EXT=pyrealsense2/pyrealsense2.cpython-311-x86_64-linux-gnu.so
PREFIX=$TP/librealsense-$RS_VERSION
LIB=$PREFIX/lib
SO=$LIB/librealsense2.so.$RS_VERSION

log() { printf '\033[1;34m[setup:librealsense]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup:librealsense] error:\033[0m %s\n' "$*" >&2; exit 1; }

# 1. A system install wins (robot with Intel's librealsense2 packages or a source build).
if pkg-config --exists realsense2 2>/dev/null; then
  sys_lib=$(pkg-config --variable=libdir realsense2)
  if [ "$(realpath -m "$sys_lib")" != "$LIB" ]; then
    ver=$(pkg-config --modversion realsense2)
    case "$ver" in
      2.56.*) ;;
      *) log "warning: system librealsense2 is $ver; realsense-sys =2.56.5 bindings expect 2.56.x" ;;
    esac
    log "using the system librealsense2 $ver in $sys_lib"
    echo "$sys_lib"
    exit 0
  fi
fi

# The wheel is x86_64 only; elsewhere (e.g. a Jetson) librealsense must come from the system.
if [ "$(uname -m)" != x86_64 ]; then
  log "warning: no system librealsense2 (pkg-config realsense2) and the pinned wheel is x86_64 only;"
  log "         install librealsense2 2.56.x from Intel's packages or source to use feature \`realsense\`"
  echo ""
  exit 0
fi

# 2. Already extracted from the same wheel?
if [ -f "$SO" ] && [ "$(cat "$PREFIX/.sattva-stamp" 2>/dev/null)" = "$RS_WHEEL_SHA256" ]; then
  log "present in $LIB"
  echo "$LIB"
  exit 0
fi

command -v patchelf >/dev/null || die "patchelf not found (apt-get install patchelf)"
PY=/usr/bin/python3
[ -x "$PY" ] || die "no /usr/bin/python3"
ldconfig -p 2>/dev/null | grep -q 'libpython3.11.so.1.0' \
  || log "warning: libpython3.11.so.1.0 not in the loader cache (apt-get install libpython3.11)"

log "fetching $RS_WHEEL (pinned, sha256 $RS_WHEEL_SHA256)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "pyrealsense2==$RS_WHEEL_VERSION --hash=sha256:$RS_WHEEL_SHA256" > "$tmp/req.txt"
"$PY" -m pip download -q --no-deps --require-hashes --only-binary=:all: --python-version 3.11 \
  --platform manylinux1_x86_64 -r "$tmp/req.txt" -d "$tmp" >&2 \
  || die "pip download of pyrealsense2==$RS_WHEEL_VERSION failed"
echo "$RS_WHEEL_SHA256  $tmp/$RS_WHEEL" | sha256sum -c --quiet - >&2 || die "wheel hash mismatch"

mkdir -p "$LIB/pkgconfig" "$PREFIX/include"
"$PY" - "$tmp/$RS_WHEEL" "$RS_EXT" "$SO.tmp" <<'PY'
import shutil, sys, zipfile
whl, member, dst = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as s, open(dst, "wb") as d:
    shutil.copyfileobj(s, d)
PY
chmod 0755 "$SO.tmp"
# Two SEPARATE patchelf calls: both flags in one call corrupted the SONAME with patchelf 0.14.
patchelf --set-soname "librealsense2.so.$RS_SOVER" "$SO.tmp"
patchelf --add-needed libpython3.11.so.1.0 "$SO.tmp"
[ "$(patchelf --print-soname "$SO.tmp")" = "librealsense2.so.$RS_SOVER" ] || die "patchelf: SONAME not set"
patchelf --print-needed "$SO.tmp" | grep -qx 'libpython3.11.so.1.0' || die "patchelf: libpython not added"
mv -f "$SO.tmp" "$SO"
ln -sfn "librealsense2.so.$RS_VERSION" "$LIB/librealsense2.so.$RS_SOVER"
ln -sfn "librealsense2.so.$RS_SOVER" "$LIB/librealsense2.so"
cat > "$LIB/pkgconfig/realsense2.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: realsense2
Description: librealsense2 C API extracted from the PyPI wheel pyrealsense2 $RS_WHEEL_VERSION (no headers)
Version: $RS_VERSION
Libs: -L\${libdir} -lrealsense2
Cflags: -I\${includedir}
PC
echo "$RS_WHEEL_SHA256" > "$PREFIX/.sattva-stamp"
log "installed $SO"
echo "$LIB"
