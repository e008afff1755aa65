#!/usr/bin/env python3
"""Python-side learning: sattva.Substrate.learn vs river and artlib, same process, same vectors.

Input: the experience vectors `sattva eval literacy` exported (experiences.csv, training rows in
the order the agent learned them, novel rows) and its snapshot (substrate.snap, for the agent's
substrate configuration). Every method makes one pass over the training vectors, one call per
vector, each call timed with perf_counter (as scripts/bench/baselines.py times the baselines);
the final model then assigns the training vectors (purity, NMI) and the novel ones (recognition),
scored by baselines.py's own code. Baselines run on baselines.py's grids, best NMI reported.

usage: python python/bench/bench_learn.py out/literacy [--repeat 20] [--all]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import sattva

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
import baselines  # noqa: E402  (load, score, run_river: the literacy table's scoring)


def stats(us):
    us = np.asarray(us)
    return np.percentile(us, 50), np.percentile(us, 99), len(us) / (us.sum() * 1e-6)


def row(name, r, us):
    p50, p99, rate = stats(us)
    print(f"| {name} | {r['clusters']} | {r['purity']:.3f} | {r['nmi']:.3f} | {100 * r['acc']:.1f} % "
          f"| {p50:.1f} | {p99:.1f} | {rate:,.0f} |")
    return p99, rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path, help="output directory of `sattva eval literacy`")
    ap.add_argument("--repeat", type=int, default=20, help="sattva passes (fresh substrate each)")
    ap.add_argument("--all", action="store_true", help="also river CluStream and STREAMKMeans (slow)")
    a = ap.parse_args()
    X, y, split, agent = baselines.load(a.dir / "experiences.csv")
    tr, no = split == "train", split == "novel"
    Xtr, ytr, Xno, yno = X[tr], y[tr], X[no], y[no]
    cfg = sattva.Substrate.load(a.dir / "substrate.snap").config
    X32 = np.ascontiguousarray(Xtr, dtype=np.float32)
    rows32 = list(X32)  # one (D,) float32 view per call: read in place by learn()

    print(f"{len(Xtr)} training / {len(Xno)} novel vectors, D = {X.shape[1]}, "
          f"Python {sys.version.split()[0]}, sattva {sattva.__version__}")
    print("| method | clusters | purity | NMI | recognition | learn p50 us | learn p99 us | learns/s |")
    print("|---|---|---|---|---|---|---|---|")

    us = []
    for _ in range(a.repeat):
        s = sattva.Substrate(**cfg)
        learn = s.learn
        for x in rows32:
            t0 = time.perf_counter()
            learn(x)
            us.append((time.perf_counter() - t0) * 1e6)
    ctr, _ = s.recall_batch(X32)
    cno, _ = s.recall_batch(np.asarray(Xno, dtype=np.float32))
    r = baselines.score("sattva", list(ctr), ytr, list(cno), yno, 0)
    same = np.array_equal(ctr, agent[tr])
    ours_p99, ours_rate = row(f"**sattva Substrate.learn** ({a.repeat} passes)", r, us)
    # the batch call: one GIL release for all rows
    t = []
    for _ in range(a.repeat):
        s = sattva.Substrate(**cfg)
        t0 = time.perf_counter()
        s.learn_batch(X32)
        t.append(time.perf_counter() - t0)
    print(f"| sattva Substrate.learn_batch (per row, best of {a.repeat}) | | | | | "
          f"{1e6 * min(t) / len(X32):.1f} | | {len(X32) / min(t):,.0f} |")

    best_base = []
    from river import cluster

    dtr, dno = baselines.dicts(Xtr), baselines.dicts(Xno)
    best = None
    for eps in (0.3, 0.5, 0.7, 0.9, 1.1, 1.3):
        m = cluster.DenStream(decaying_factor=0.01, beta=0.5, mu=2.5, epsilon=eps,
                              n_samples_init=min(50, len(Xtr)), stream_speed=100)
        tus = []
        for x in dtr:
            t0 = time.perf_counter()
            m.learn_one(x)
            tus.append((time.perf_counter() - t0) * 1e6)
        rr = baselines.score(f"river DenStream (eps {eps})", [safe_predict(m, x) for x in dtr], ytr,
                             [safe_predict(m, x) for x in dno], yno, 0)
        if best is None or rr["nmi"] > best[0]["nmi"]:
            best = (rr, tus)
    best_base.append(row(best[0]["name"] + ", best NMI of 6", *best) + (best[0]["nmi"],))

    if a.all:
        unit = 1.0 / np.sqrt(X.shape[1])
        for name, make in (
            ("river CluStream", lambda: cluster.CluStream(
                n_macro_clusters=24, max_micro_clusters=100, time_window=1000, time_gap=25,
                seed=0, sigma=0.3 * unit, mu=0.0, halflife=0.5)),
            ("river STREAMKMeans", lambda: cluster.STREAMKMeans(
                chunk_size=25, n_clusters=24, seed=0, sigma=0.3 * unit, mu=0.0, halflife=0.5)),
        ):
            m = make()
            tus = []
            for x in dtr:
                t0 = time.perf_counter()
                m.learn_one(x)
                tus.append((time.perf_counter() - t0) * 1e6)
            rr = baselines.score(name, [safe_predict(m, x) for x in dtr], ytr,
                                 [safe_predict(m, x) for x in dno], yno, 0)
            best_base.append(row(name + " (k = 24 oracle)", rr, tus) + (rr["nmi"],))

    from artlib import FuzzyART

    lo, hi = Xtr.min(axis=0), Xtr.max(axis=0)

    def prep(Z):
        n = np.clip((Z - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)
        return np.hstack([n, 1.0 - n])

    ptr, pno = prep(Xtr), prep(Xno)
    best = None
    for rho in (0.5, 0.7, 0.8, 0.9, 0.93, 0.96):
        m = FuzzyART(rho=rho, alpha=1e-3, beta=1.0)
        tus = []
        for x in ptr:
            t0 = time.perf_counter()
            m.partial_fit(x[None, :])
            tus.append((time.perf_counter() - t0) * 1e6)
        rr = baselines.score(f"artlib FuzzyART (rho {rho})", list(m.predict(ptr)), ytr,
                             list(m.predict(pno)), yno, 0)
        if best is None or rr["nmi"] > best[0]["nmi"]:
            best = (rr, tus)
    best_base.append(row(best[0]["name"] + ", best NMI of 6", *best) + (best[0]["nmi"],))

    p99_base = min(b[0] for b in best_base)
    rate_base = max(b[1] for b in best_base)
    nmi_base = max(b[2] for b in best_base)
    print()
    print(f"sattva's assignments equal the agent's (experiences.csv): {same}")
    print(f"sattva vs the best baseline on each figure: p99 per call {ours_p99:.1f} vs {p99_base:.1f} us "
          f"({p99_base / ours_p99:.0f}x), throughput {ours_rate:,.0f} vs {rate_base:,.0f} learns/s "
          f"({ours_rate / rate_base:.0f}x), NMI {r['nmi']:.3f} vs {nmi_base:.3f}")


def safe_predict(m, x):
    try:
        return m.predict_one(x)
    except Exception:  # no cluster yet / outlier
        return -1


if __name__ == "__main__":
    main()
