#!/usr/bin/env python3
"""RTAMT reference for sattva's STL monitors (tests/monitor_rtamt.rs, `sattva bench monitors`).

Usage: monitors_reference.py TRACE.csv SPECS.tsv PERIOD_NS OUT.csv [MAX_SAMPLES]

TRACE.csv: a header `t_ns,<signal>,...` then one row per control cycle (what sattva wrote).
SPECS.tsv: one monitor per line, `name<TAB>spec` (sattva's spec text, which is RTAMT syntax).
For every spec, RTAMT 0.4.10's discrete-time online monitor (StlDiscreteTimeSpecification,
sampling period PERIOD_NS, bounds in seconds, pastified: bounded-future operators evaluated
with their bound as delay) is updated once per row with the signals the spec uses. OUT.csv gets
one column of robustness per spec (repr of the float: inf, -inf, nan). Prints one line per spec
to stdout: name, the ns per update (wall clock around `update`, summed over the rows / rows).
"""
import re
import sys
import time

import rtamt


def main():
    trace, specs_file, period_ns, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    max_rows = int(sys.argv[5]) if len(sys.argv) > 5 else None
    with open(trace) as f:
        header = f.readline().strip().split(",")
        rows = [[float(x) for x in line.split(",")] for line in f if line.strip()]
    if max_rows is not None:
        rows = rows[:max_rows]
    col = {name: i for i, name in enumerate(header)}
    specs = []
    with open(specs_file) as f:
        for line in f:
            if line.strip():
                name, text = line.rstrip("\n").split("\t", 1)
                specs.append((name, text))
    results = []
    for name, text in specs:
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        used = [w for w in header[1:] if w in words]
        spec = rtamt.StlDiscreteTimeSpecification()
        spec.name = name
        for v in used:
            spec.declare_var(v, "float")
        spec.set_sampling_period(period_ns, "ns", 0.1)
        spec.unit = "s"
        spec.spec = text
        spec.parse()
        spec.pastify()
        idx = [(v, col[v]) for v in used]
        rob = []
        spent = 0
        for r in rows:
            data = [(v, r[i]) for v, i in idx]
            t = r[0] * 1e-9
            t0 = time.perf_counter_ns()
            x = spec.update(t, data)
            spent += time.perf_counter_ns() - t0
            rob.append(float(x))
        results.append(rob)
        print(f"{name}\t{spent / max(1, len(rows)):.1f}", flush=True)
    with open(out, "w") as f:
        f.write(",".join(n for n, _ in specs) + "\n")
        for k in range(len(rows)):
            f.write(",".join(repr(res[k]) for res in results) + "\n")


if __name__ == "__main__":
    main()
