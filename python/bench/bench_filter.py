#!/usr/bin/env python3
"""OrientationFilter.update_batch vs vqf's C++ batch (`VQF.updateBatch`) on the BROAD trials.

Both from the same Python process on the same arrays (BROAD trial CSVs as `sattva bench fusion`
loads them); time per sample = best of --repeat whole-trial runs (a fresh filter each run, output
arrays allocated inside the call for both); RMSE with BROAD's metric (`sattva.orientation_rmse`,
the Rust bench's code) for both.

usage: python python/bench/bench_filter.py [DATA_DIR] [--repeat 7]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import vqf

import sattva

ROOT = Path(__file__).resolve().parents[2]


def best_ns(run, n, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        q = run()
        best = min(best, time.perf_counter() - t0)
    return q, best * 1e9 / n


def main():
    ap = argparse.ArgumentParser()
    default = next((p for p in (ROOT.parent / "shared/data/imu", ROOT.parent.parent / "shared/data/imu")
                    if p.is_dir()), ROOT.parent / "shared/data/imu")
    ap.add_argument("data", type=Path, nargs="?", default=default)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    print(f"vqf {vqf.__version__ if hasattr(vqf, '__version__') else '(PyPI)'}, sattva {sattva.__version__}")
    print("| trial | filter | inclination deg | heading deg | ns/sample | ratio to vqf |")
    print("|---|---|---|---|---|---|")
    for path in sorted(a.data.glob("broad_*.csv")):
        tr = sattva.load_broad_csv(path)
        n = len(tr["t"])
        dt = float(np.median(np.diff(tr["t"])))
        g, acc, mag = (np.ascontiguousarray(tr[k]) for k in ("gyr", "acc", "mag"))
        score = tr["score"].tolist()
        q_s, ns_s = best_ns(lambda: sattva.OrientationFilter(dt).update_batch(g, acc, mag), n, a.repeat)
        q_v, ns_v = best_ns(lambda: vqf.VQF(dt).updateBatch(g, acc, mag)["quat9D"], n, a.repeat)
        e_s = sattva.orientation_rmse(q_s, tr["truth"], score)
        e_v = sattva.orientation_rmse(q_v, tr["truth"], score)
        name = path.stem.replace("broad_", "BROAD ")
        print(f"| {name} | sattva update_batch | {e_s['inclination']:.3f} | {e_s['heading']:.3f} "
              f"| {ns_s:.0f} | {ns_s / ns_v:.2f} |")
        print(f"| | vqf updateBatch (C++) | {e_v['inclination']:.3f} | {e_v['heading']:.3f} "
              f"| {ns_v:.0f} | 1 |")


if __name__ == "__main__":
    main()
