#!/usr/bin/env python3
"""FAISS reference for `sattva bench substrate`.

Reads the vectors, queries and exact ground truth exported by the Rust side (little-endian f32
files in --dir: base.f32 (N x D), queries.f32 (Q x D), ids.f32 (N, slot of each base row),
gt.f32 (Q x 10, slots)), builds IndexHNSWFlat with the same M and efConstruction, and for each
efSearch measures single-query latency (one thread, one query per call, like the Rust side) and
recall@10 (and recall@1: the first result is the exact nearest). Prints `build <s>` and one
`ef <ef> recall <r> p50 <us> p99 <us> max <us> r1 <r>` line per ef.
"""
import argparse
import sys
import time

import faiss
import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--dim", type=int, required=True)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=100)
    ap.add_argument("--ef", default="16,32,64,128")
    ap.add_argument("--build-threads", type=int, default=2)
    a = ap.parse_args()
    d = a.dim
    base = np.fromfile(f"{a.dir}/base.f32", dtype="<f4").reshape(-1, d)
    queries = np.fromfile(f"{a.dir}/queries.f32", dtype="<f4").reshape(-1, d)
    ids = np.fromfile(f"{a.dir}/ids.f32", dtype="<f4").astype(np.int64)
    gt = np.fromfile(f"{a.dir}/gt.f32", dtype="<f4").astype(np.int64).reshape(-1, 10)
    if len(ids) != len(base) or len(gt) != len(queries):
        sys.exit(f"inconsistent export: {len(base)} vectors, {len(ids)} ids, "
                 f"{len(queries)} queries, {len(gt)} ground-truth rows")

    faiss.omp_set_num_threads(a.build_threads)
    index = faiss.IndexHNSWFlat(d, a.m)  # L2 on unit vectors ranks like cosine
    index.hnsw.efConstruction = a.efc
    t0 = time.perf_counter()
    index.add(base)
    print(f"build {time.perf_counter() - t0:.3f}", flush=True)

    faiss.omp_set_num_threads(1)
    for ef in [int(e) for e in a.ef.split(",") if e]:
        index.hnsw.efSearch = ef
        lat = np.empty(len(queries))
        found = 0
        first = 0
        for i in range(len(queries)):
            q = queries[i : i + 1]
            t0 = time.perf_counter()
            _, rows = index.search(q, 10)
            lat[i] = (time.perf_counter() - t0) * 1e6
            got = ids[rows[0][rows[0] >= 0]]
            found += len(np.intersect1d(got, gt[i]))
            first += int(len(got) > 0 and got[0] == gt[i][0])
        recall = found / (10 * len(queries))
        p50, p99, mx = np.percentile(lat, 50), np.percentile(lat, 99), lat.max()
        r1 = first / len(queries)
        print(f"ef {ef} recall {recall:.4f} p50 {p50:.1f} p99 {p99:.1f} max {mx:.1f} r1 {r1:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
