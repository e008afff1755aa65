#!/usr/bin/env bash
# Regenerates every figure of the README's learning and performance sections into ONE dated
# Markdown file: each figure's section holds the exact command, its output (the benches print the
# reference tool measured in the same run beside sattva's figure) and how long it took.
#
#   bash scripts/figures.sh                 # everything, release build -> docs/figures/figures-<date>.md
#   bash scripts/figures.sh --list          # the figures, the README section each feeds, the time
#   bash scripts/figures.sh --only sim,bench-encode   # some (-> out/figures-<date>-<names>.md)
#   bash scripts/figures.sh --quick         # every figure but `sched`, tiny sizes, debug build:
#                                             a check of this script (-> out/figures-<date>-quick.md);
#                                             its numbers are NOT the README's
#   --out FILE                              # write there instead
#
# Full run: ~40 min on the 2-vCPU VM (2026-12-06; the 1M-attractor substrate bench 16 min, the
# five-agent peers evaluation 7 min), plus the release build; 11 GB free disk for the generated
# bag. `sched` needs cyclictest (rt-tests) and pins SCHED_FIFO 80 on core 1: run it (and the
# full script) on a quiet machine only, nothing else building.
# The real data set is read from $SATTVA_DATA_DIR, else ../shared/data or ../../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib.sh
. scripts/lib.sh

# name | README section it feeds | time of a full run (wall, 2-vCPU VM, 2026-12-06; debug test builds not counted)
FIGURES=(
  "sim|Quick start: the sattva sim summary; Substrate: learn p99 in the learning loop|10 s"
  "literacy|Motor-primitive literacy table (five robots, baselines in the same run)|3 min"
  "grounding|Words grounded in attractors: the grounding table, vocabulary, YAM, more teaching (TF-IDF baseline in the same run)|1 min"
  "perform|Acting from what was learned: the perform table (four robots, per attractor and --per-label)|1 min"
  "peers|Peer validation: the eval peers table (5 agents alone, as a team, with a faulty peer; ROS 2)|7 min"
  "learn-python|Python: Substrate.learn vs river / artlib (needs literacy's sim output)|10 s"
  "filter-python|Python: OrientationFilter.update_batch vs vqf|5 s"
  "bench-sim|Performance: simulation backend vs bare mujoco-rs (arm, Go2)|40 s"
  "bench-fusion|Performance: orientation filter vs vqf, imufusion, ahrs; whole Fusion::update|30 s"
  "bench-encode|Performance: experience encoding ns per call|10 s"
  "fusion-mujoco|Performance: MuJoCo ground-truth orientation test (inclination RMS, yaw drift)|10 s"
  "sched|Performance: executor wake-up latency vs cyclictest and a bare loop, dispatch, handoff (QUIET MACHINE)|3 min"
  "bench-ros|Performance: RT task -> node -> rclpy latency vs rclpy -> rclpy|15 s"
  "ros-stall|Performance: the control task while the ROS node thread is blocked 2 s|20 s"
  "substrate|Performance: substrate at 3k..1M attractors, index vs FAISS IndexHNSWFlat|16 min"
  "bench-replay|Performance: bag read + decode vs rosbags|5 s"
  "replay-big|Replay at robot-log scale: peak memory of a replay of a 10 GB camera bag|80 s"
  "bench-realsense|Performance: RealSense playback through the backend vs bare librealsense|5 s"
  "bench-vision|Vision: ms per frame, Rust vs OpenCV|5 s"
  "vision-sim|Vision: cost of rendering in sattva sim; the visual modality on the curriculum|2 min"
  "vision-tests|Vision: rotation accuracy, yaw drift with/without the aid, visual modality (tests)|25 s"
  "bench-monitors|Safety monitors: ns per cycle vs RTAMT per sample|5 s"
)

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }

ONLY="" QUICK=0 OUT="" LIST=0
ARGS=""
for a in "$@"; do ARGS="$ARGS $a"; done
while [ $# -gt 0 ]; do
  case "$1" in
    --only) ONLY=${2:?--only needs NAME[,NAME...]}; shift 2 ;;
    --only=*) ONLY=${1#--only=}; shift ;;
    --quick) QUICK=1; shift ;;
    --out) OUT=${2:?--out needs a file}; shift 2 ;;
    --list) LIST=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "figures.sh: unknown argument \`$1\` (see --help)" >&2; exit 2 ;;
  esac
done

names=()
for f in "${FIGURES[@]}"; do names+=("${f%%|*}"); done
if [ "$LIST" = 1 ]; then
  for f in "${FIGURES[@]}"; do
    IFS='|' read -r n what t <<<"$f"
    printf '%-16s %-10s %s\n' "$n" "$t" "$what"
  done
  exit 0
fi
selected=()
if [ -n "$ONLY" ]; then
  IFS=',' read -r -a want <<<"$ONLY"
  for w in "${want[@]}"; do
    found=0
    for n in "${names[@]}"; do [ "$n" = "$w" ] && found=1; done
    if [ $found = 0 ]; then
      echo "figures.sh: no figure named \`$w\`; figures: ${names[*]}" >&2
      exit 2
    fi
    selected+=("$w")
  done
else
  for n in "${names[@]}"; do
    [ "$QUICK" = 1 ] && [ "$n" = sched ] && continue
    selected+=("$n")
  done
fi

DATE=$(date -u +%Y-%m-%d)
if [ -z "$OUT" ]; then
  if [ "$QUICK" = 1 ]; then
    OUT=out/figures-$DATE-quick.md
  elif [ -n "$ONLY" ]; then
    OUT=out/figures-$DATE-${ONLY//,/-}.md
  else
    OUT=docs/figures/figures-$DATE.md
  fi
fi
mkdir -p "$(dirname "$OUT")"
WORK=out/figures-work
LOGS=$WORK/logs
mkdir -p "$LOGS"

# the real data set (as tests/common/mod.rs finds it)
DATA=${SATTVA_DATA_DIR:-}
if [ -z "$DATA" ]; then
  for d in ../shared/data ../../shared/data; do
    [ -d "$d" ] && DATA=$(cd "$d" && pwd) && break
  done
fi
PY=${SATTVA_PYTHON:-third_party/venv/bin/python}
[ -x "$PY" ] || { echo "figures.sh: no Python at $PY (run scripts/setup.sh, or set SATTVA_PYTHON)" >&2; exit 1; }

if [ "$QUICK" = 1 ]; then
  PROFILE_ARGS=() BIN=target/debug/sattva MODE="quick: debug build, tiny sizes (a check of the script; these are not the README's figures)"
else
  PROFILE_ARGS=(--release) BIN=target/release/sattva MODE="full: release build"
fi
echo "[figures] building: cargo build ${PROFILE_ARGS[*]} --features $SATTVA_FEATURES" >&2
cargo build "${PROFILE_ARGS[@]}" --features "$SATTVA_FEATURES" --bin sattva >&2

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- 2>/dev/null || commit="$commit (with uncommitted changes)"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
{
  echo "# sattva figures, $DATE"
  echo
  echo "Made by \`bash scripts/figures.sh$ARGS\`"
  echo "(commit $commit; $MODE). Machine: $(nproc) CPUs ($cpu), kernel $(uname -r);"
  echo "load average at the start $(cut -d' ' -f1-3 /proc/loadavg). Binary: \`$BIN\` from"
  echo "\`cargo build ${PROFILE_ARGS[*]} --features $SATTVA_FEATURES\`; tests run as the README's test"
  echo "command builds them (debug). Data set: \`${DATA:-(not found)}\`."
  echo
  echo "Every section: the command, then its standard output (each bench prints the reference"
  echo "measured in the same run beside sattva's figure; for tests, the lines they print), then its"
  echo "exit status and wall time. Logs (stderr) are in \`$LOGS/\`."
  echo
  echo "| figure | README section |"
  echo "|---|---|"
  for f in "${FIGURES[@]}"; do
    IFS='|' read -r n what _ <<<"$f"
    for s in "${selected[@]}"; do [ "$s" = "$n" ] && echo "| [\`$n\`](#$n) | $what |"; done
  done
} >"$OUT"

FAILED=()
# section NAME TITLE: starts a figure's section
section() {
  CUR=$1
  printf '\n## %s\n\n%s\n' "$1" "$2" >>"$OUT"
  echo "[figures] $1" >&2
}
# run CMD...: runs one command of the current figure; its stdout goes into the file
run() {
  local cmd="$*" t0 rc
  printf '\n```bash\n%s\n```\n\n```text\n' "$cmd" >>"$OUT"
  t0=$(date +%s%N)
  set +e
  bash -o pipefail -c "$cmd" >>"$OUT" 2>>"$LOGS/$CUR.log"
  rc=$?
  set -e
  printf '```\n\nexit %s, %s s wall\n' "$rc" "$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')" >>"$OUT"
  [ $rc = 0 ] || FAILED+=("$CUR: $cmd (exit $rc; see $LOGS/$CUR.log)")
}
# run_test TEST PATTERN: runs an integration test (debug, as scripts/test.sh) and keeps the lines
# it prints that match PATTERN (extended regex), plus the result line
run_test() {
  local t=$1 pat=$2
  run "cargo test --features $SATTVA_FEATURES --test $t -- --nocapture --test-threads 1 2>&1 | grep -E '$pat|^test result'"
}
q() { [ "$QUICK" = 1 ]; }  # quick mode?

for n in "${selected[@]}"; do
  case $n in
    sim)
      section sim "The \`sattva sim\` summary (reference arm, seed 7, 200 training episodes): attractors, recognition, learn time."
      if q; then run "$BIN sim --episodes 6 --snapshot $WORK/sim.snap"
      else run "$BIN sim --snapshot $WORK/sim.snap"; fi
      ;;
    literacy)
      section literacy "Motor-primitive literacy per robot (200 training, 96 novel episodes, seed 7); the online baselines on the same exported vectors in the same run (\`--baselines\`)."
      if q; then run "$BIN eval literacy -c config/sim.yaml --train 26 --novel 8 --baselines --out $WORK/literacy_sim"
      else
        for r in sim jaco yam go2 g1; do
          run "$BIN eval literacy -c config/$r.yaml --baselines --out $WORK/literacy_$r"
        done
      fi
      ;;
    grounding)
      section grounding "Grounding (seed 7, 200 training / 96 novel episodes; the scikit-learn TF-IDF + 1-NN baseline in the same run): the reference arm, the i2rt YAM, and the reference arm with more teaching."
      if q; then run "$BIN eval grounding -c config/sim.yaml --train 26 --novel 8 --out $WORK/grounding_sim"
      else
        run "$BIN eval grounding -c config/sim.yaml --out $WORK/grounding_sim"
        run "$BIN eval grounding -c config/yam.yaml --out $WORK/grounding_yam"
        run "$BIN eval grounding -c config/sim.yaml --train 416 --novel 384 --out $WORK/grounding_sim_more"
      fi
      ;;
    perform)
      section perform "Performing learned attractors (seed 7, 4 performances per attractor from novel start poses): every attractor that absorbed >= 3 experiences, and \`--per-label\`."
      if q; then run "$BIN eval perform -c config/sim.yaml --train 26 --trials 1 --out $WORK/perform_sim"
      else
        for r in sim yam go2 jaco; do
          run "$BIN eval perform -c config/$r.yaml --out $WORK/perform_$r"
        done
        for r in sim yam go2; do
          run "$BIN eval perform -c config/$r.yaml --per-label --out $WORK/perform_${r}_label"
        done
      fi
      ;;
    peers)
      section peers "Peer validation over ROS 2: five agents alone, as a team, and as a team with a faulty peer, same seeds."
      if q; then run "$BIN eval peers -n 3 --train 20 --novel 8 --calibration 10 -p peers.rate=3 --out $WORK/eval_peers"
      else run "$BIN eval peers --train 150 --novel 52 --calibration 20 -p peers.rate=3 --out $WORK/eval_peers"; fi
      ;;
    learn-python)
      section learn-python "Learning from Python on the literacy evaluation's exported vectors: \`sattva.Substrate.learn\` vs river and artlib, same process."
      if [ ! -f "$WORK/literacy_sim/experiences.csv" ]; then
        if q; then run "$BIN eval literacy -c config/sim.yaml --train 26 --novel 8 --out $WORK/literacy_sim"
        else run "$BIN eval literacy -c config/sim.yaml --out $WORK/literacy_sim"; fi
      fi
      if q; then run "$PY python/bench/bench_learn.py $WORK/literacy_sim --repeat 2"
      else run "$PY python/bench/bench_learn.py $WORK/literacy_sim"; fi
      ;;
    filter-python)
      section filter-python "\`OrientationFilter.update_batch\` vs vqf's C++ \`updateBatch\` on BROAD (RMSE with \`sattva.orientation_rmse\`)."
      if q; then run "$PY python/bench/bench_filter.py $DATA/imu --repeat 1"
      else run "$PY python/bench/bench_filter.py $DATA/imu --repeat 5"; fi
      ;;
    bench-sim)
      section bench-sim "The simulation backend's loop vs a bare mujoco-rs loop doing identical physics."
      if q; then
        run "$BIN bench sim --steps 2000 --reps 1"
      else
        run "$BIN bench sim"
        run "$BIN bench sim -c config/go2.yaml --steps 20000"
      fi
      ;;
    bench-fusion)
      section bench-fusion "Orientation filter vs vqf, imufusion, ahrs Madgwick/Mahony on BROAD 02/30 and the MuJoCo arm; whole \`Fusion::update\`."
      if q; then run "$BIN bench fusion --data $DATA/imu --sim-seconds 5"
      else run "$BIN bench fusion --data $DATA/imu"; fi
      ;;
    bench-encode)
      section bench-encode "Experience encoding at D = 256, ns per call."
      if q; then run "$BIN bench encode --calls 2000"; else run "$BIN bench encode"; fi
      ;;
    fusion-mujoco)
      section fusion-mujoco "MuJoCo ground truth (arm resting 4 s, then all joints moving, gyro bias 0.01 rad/s): the filter vs gyro integration alone."
      run_test fusion_mujoco 'filter: incl rms'
      ;;
    sched)
      section sched "Executor wake-up latency vs cyclictest and a bare clock_nanosleep loop (same run), dispatch overhead, core handoff. SCHED_FIFO 80 on core 1: a quiet machine only."
      command -v cyclictest >/dev/null || FAILED+=("sched: cyclictest not installed (Debian package rt-tests)")
      if q; then run "$BIN bench sched --seconds 1 --intervals-us 1000 --no-hog"
      else run "$BIN bench sched --seconds 10"; fi
      ;;
    bench-ros)
      section bench-ros "JointState latency RT task -> bridge -> sattva node -> rclpy vs rclpy -> rclpy (200 Hz, sensor-data QoS, same run)."
      if q; then run "$BIN bench ros --seconds 1"; else run "$BIN bench ros --seconds 8"; fi
      ;;
    ros-stall)
      section ros-stall "\`sattva run\` with the ROS node thread blocked for 2 s vs undisturbed (tests/ros_bridge_stall.rs prints both runs)."
      run_test ros_bridge_stall 'undisturbed:'
      ;;
    substrate)
      section substrate "Substrate learn / maintain / activate latency and memory from 3k to 1M attractors; the index vs FAISS IndexHNSWFlat on the same vectors (same run); a bounded 1M-experience stream."
      if q; then run "$BIN bench substrate --sizes 1000 --ef 16,64 --ops 200 --queries 100 --stream 2000 --stream-capacity 500 --out-dir $WORK/bench_substrate"
      else run "$BIN bench substrate --sizes 1000,10000,100000,1000000 --ef 16,32,64,128,256 --stream 1000000 --stream-capacity 10000 --out-dir $WORK/bench_substrate"; fi
      ;;
    bench-replay)
      section bench-replay "Bag read + decode throughput vs the Python \`rosbags\` package on the same synthetic bag (IMU / JointState / TF)."
      if q; then run "$BIN bench replay --seconds 2 --reps 1"; else run "$BIN bench replay --seconds 60"; fi
      ;;
    replay-big)
      section replay-big "Peak RSS of \`sattva replay\` with vision over a generated camera bag (written under target/tmp, deleted afterwards)."
      if q; then run "$BIN bench replay --big --gigabytes 0.05"; else run "$BIN bench replay --big"; fi
      ;;
    bench-realsense)
      section bench-realsense "RealSense playback (synthetic recording) through the backend vs bare librealsense."
      if q; then run "$BIN bench realsense --seconds 1 --reps 1"; else run "$BIN bench realsense"; fi
      ;;
    bench-vision)
      section bench-vision "Vision stage per 640x480 frame: depth cleanup, descriptor, ORB rotation; Rust vs OpenCV (same frames, same run)."
      if q; then run "$BIN bench vision --frames 5"; else run "$BIN bench vision --frames 200"; fi
      ;;
    vision-sim)
      section vision-sim "Cost of rendering \`scene_cam\` at 30 frames per simulated second in \`sattva sim\` (real-time factor, frames), and the visual modality on the full curriculum (recognition, attractors): each run without and with \`-p vision.enabled=true\`."
      if q; then
        run "$BIN sim --episodes 4 --snapshot $WORK/vision_off.snap | grep -E 'wall time|vision|recognition|attractors'"
        run "$BIN sim --episodes 4 -p vision.enabled=true --snapshot $WORK/vision_on.snap | grep -E 'wall time|vision|recognition|attractors'"
      else
        run "$BIN sim --episodes 30 --snapshot $WORK/vision_off.snap | grep -E 'wall time|vision'"
        run "$BIN sim --episodes 30 -p vision.enabled=true --snapshot $WORK/vision_on.snap | grep -E 'wall time|vision'"
        run "$BIN sim --episodes 200 --snapshot $WORK/vision_off.snap | grep -E 'recognition|attractors'"
        run "$BIN sim --episodes 200 -p vision.enabled=true --snapshot $WORK/vision_on.snap | grep -E 'recognition|attractors'"
      fi
      ;;
    vision-tests)
      section vision-tests "Rotation accuracy against MuJoCo's camera orientations, yaw drift with and without the visual heading aid (tests/vision_heading.rs), and the visual modality's effect on one primitive (tests/vision_encode.rs)."
      run_test vision_heading 'rotation|drift|heading|accepted'
      run_test vision_encode 'cosine'
      ;;
    bench-monitors)
      section bench-monitors "STL monitors: ns per control cycle for 1, 10, 50 monitors vs RTAMT per sample (same trace, same run)."
      if q; then run "$BIN bench monitors --cycles 300 --rtamt-samples 50"
      else run "$BIN bench monitors --cycles 3000 --rtamt-samples 600"; fi
      ;;
  esac
done

{
  echo
  if [ ${#FAILED[@]} = 0 ]; then
    echo "All commands succeeded."
  else
    echo "## Failed"
    echo
    for f in "${FAILED[@]}"; do echo "- $f"; done
  fi
} >>"$OUT"
echo "[figures] wrote $OUT" >&2
if [ ${#FAILED[@]} != 0 ]; then
  printf '[figures] FAILED: %s\n' "${FAILED[@]}" >&2
  exit 1
fi
