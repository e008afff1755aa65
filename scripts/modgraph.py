#!/usr/bin/env python3
"""The crate's module graph: which top-level module uses which (`crate::x` paths in src/x/**),
and the cycles in it. `python3 scripts/modgraph.py [--dot]`."""
import re, sys, pathlib, itertools
src = pathlib.Path(__file__).resolve().parent.parent / "src"
mods = sorted({p.stem if p.parent == src else p.relative_to(src).parts[0]
               for p in src.rglob("*.rs")} - {"lib", "main"})
edges = {m: set() for m in mods}
for p in src.rglob("*.rs"):
    rel = p.relative_to(src)
    m = rel.stem if len(rel.parts) == 1 else rel.parts[0]
    if m not in edges:
        continue
    text = re.sub(r"//[^\n]*", "", p.read_text())
    # unit tests may use the whole crate: they are not part of the module's dependencies
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    for t in re.findall(r"crate::([a-z_]+)", text):
        if t in edges and t != m:
            edges[m].add(t)
# strongly connected components (Tarjan)
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = i[0]; i[0] += 1; stack.append(v); on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        c = []
        while True:
            w = stack.pop(); on.discard(w); c.append(w)
            if w == v: break
        if len(c) > 1: sccs.append(sorted(c))
sys.setrecursionlimit(10000)
for v in mods:
    if v not in index: visit(v)
if "--dot" in sys.argv:
    print("digraph sattva {")
    for a in mods:
        for b in sorted(edges[a]): print(f'  "{a}" -> "{b}";')
    print("}")
    sys.exit(0)
for a in mods:
    print(f"{a:10} -> {', '.join(sorted(edges[a]))}")
print()
if not sccs:
    print("no cycles")
for c in sccs:
    pairs = [f"{a}<->{b}" for a, b in itertools.combinations(c, 2) if b in edges[a] and a in edges[b]]
    print("cycle:", " ".join(c), "| mutual:", ", ".join(pairs))
