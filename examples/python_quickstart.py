#!/usr/bin/env python3
"""sattva from Python, notebook style (run cell by cell, or as a script).

    third_party/venv/bin/python examples/python_quickstart.py [LITERACY_DIR] [BAG]

1. Learn the experience vectors `sattva eval literacy` exported, recognise the novel scenarios.
2. Replay a bag's IMU (`sensor_msgs/Imu` on /sattva/imu, e.g. a `sattva run --fast -p
   record.enabled=true` recording) through the orientation filter, compared with the orientation
   the bag carries when it has one (covariance not -1); with no bag, the BROAD trial against its
   optical motion capture ground truth. Plots go to out/python_quickstart.png when matplotlib is
   installed.
"""

# %% setup
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

import sattva

ROOT = Path(__file__).resolve().parents[1]
lit = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out" / "literacy"
if not (lit / "experiences.csv").exists():
    print(f"{lit}/experiences.csv missing: running `sattva eval literacy --out {lit}` (a few minutes)")
    subprocess.run(["cargo", "run", "--release", "--", "eval", "literacy", "--out", str(lit)],
                   cwd=ROOT, check=True)

# %% 1. the exported vectors: training rows in the agent's order, then novel scenarios
with open(lit / "experiences.csv", newline="") as f:
    rows = list(csv.DictReader(f))
vcols = [k for k in rows[0] if k.startswith("v") and k[1:].isdigit()]
X = np.array([[float(r[c]) for c in vcols] for r in rows], dtype=np.float32)
split = np.array([r["split"] for r in rows])
prim = np.array([r["primitive"] for r in rows])
train, novel = split == "train", split == "novel"

# the agent's substrate settings, taken from its snapshot; a fresh substrate learns in Python
cfg = sattva.Substrate.load(lit / "substrate.snap").config
s = sattva.Substrate(**cfg)
for x, label in zip(X[train], prim[train]):
    learned = s.learn(x)
    if learned.created:
        s.add_label(learned.id, label)
print(s, "-", s.counters())

# recognition of the novel scenarios: the best-matching attractor's label
ids, sims = s.recall_batch(X[novel])
labels = {int(i): lab for i, lab in zip(s.attractors.ids, s.attractors.labels)}
hits = np.mean([labels.get(int(i), [None])[0] == p for i, p in zip(ids, prim[novel])])
print(f"novel scenarios recognised: {100 * hits:.1f} % ({novel.sum()} scenarios, "
      f"{len(s)} attractors); e.g. {s.activate(X[novel][0], k=3)}")

# %% 2. a bag's IMU through the filter vs ground truth
def tilt_deg(q):
    # angle between the sensor's z axis and world up, from [w, x, y, z]
    return np.degrees(np.arccos(np.clip(1 - 2 * (q[:, 1] ** 2 + q[:, 2] ** 2), -1, 1)))


bag_path = Path(sys.argv[2]) if len(sys.argv) > 2 else None
if bag_path is not None:
    bag = sattva.Bag(bag_path)
    print(bag.info()["topics"])
    imu = bag.imu("/sattva/imu")
    t = (imu["stamp"] - imu["stamp"][0]) * 1e-9
    dt = float(np.median(np.diff(t)))
    q = sattva.OrientationFilter(dt).update_batch(imu["gyr"], imu["acc"])
    first = next(bag.messages(["/sattva/imu"]))
    # REP-145: orientation_covariance[0] = -1 means the message carries no orientation
    truth = imu["orientation"] if first.data["orientation_covariance"][0, 0] >= 0 else None
    title = f"{bag_path.name}: IMU replayed through the filter (6-D)"
    err = sattva.orientation_rmse(q, truth, [True] * len(q)) if truth is not None else None
else:
    data = next(p for p in (ROOT.parent / "shared/data/imu", ROOT.parent.parent / "shared/data/imu")
                if p.is_dir())
    tr = sattva.load_broad_csv(data / "broad_02_undisturbed_slow_rotation_B.csv")
    t = tr["t"] - tr["t"][0]
    dt = float(np.median(np.diff(t)))
    q = sattva.OrientationFilter(dt).update_batch(tr["gyr"], tr["acc"], tr["mag"])
    truth = tr["truth"]
    err = sattva.orientation_rmse(q, truth, tr["score"].tolist())
    title = "BROAD trial 02 through the filter (9-D) vs optical motion capture"
if err is None:
    print(f"{title}: the bag carries no reference orientation; final tilt {tilt_deg(q[-1:])[0]:.2f} deg")
else:
    print(f"{title}: RMSE inclination {err['inclination']:.3f} deg, heading {err['heading']:.3f} deg "
          f"({err['rows']} rows)")

# %% plot (tilt angle of the estimate and of the ground truth over time)
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(9, 3.5))
    if truth is not None:
        ax.plot(t, tilt_deg(truth), label="ground truth", lw=2, alpha=0.6)
    ax.plot(t, tilt_deg(q), label="sattva OrientationFilter", lw=1)
    ax.set(xlabel="time, s", ylabel="tilt, deg", title=title)
    ax.legend()
    out = ROOT / "out" / "python_quickstart.png"
    out.parent.mkdir(exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")
