"""Substrate: round trips with the Rust agent's snapshots, learning semantics, input errors, threads."""

import csv
import re
import threading

import numpy as np
import pytest

import sattva

from conftest import ROOT, run_sattva


def read_experiences(path):
    """experiences.csv of `sattva eval literacy`: split, primitive, sattva's attractor, vectors."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    vcols = [k for k in rows[0] if re.fullmatch(r"v\d+", k)]
    x = np.array([[float(r[c]) for c in vcols] for r in rows], dtype=np.float32)
    split = np.array([r["split"] for r in rows])
    prim = np.array([r["primitive"] for r in rows])
    rust = np.array([int(r["sattva_attractor"]) for r in rows])
    return x, split, prim, rust


def test_literacy_snapshot_recognises_as_the_agent_did(literacy):
    out, text = literacy
    x, split, prim, rust = read_experiences(out / "experiences.csv")
    s = sattva.Substrate.load(out / "substrate.snap")
    assert s.dimensions == x.shape[1]
    m = re.search(r"attractors formed\s+(\d+)", text)
    assert m and len(s) == int(m.group(1)), text
    ids, sims = s.recall_batch(x)
    # every experience, training and novel, goes to the attractor the agent assigned it
    np.testing.assert_array_equal(ids, rust)
    assert np.all(sims > 0.5)
    # the recognition rate the agent printed, recomputed from Python's own recall
    train, novel = split == "train", split == "novel"
    majority = {}
    for a in np.unique(ids[train]):
        labels, counts = np.unique(prim[train][ids[train] == a], return_counts=True)
        majority[a] = labels[np.argmax(counts)]
    hits = [majority.get(a) == p for a, p in zip(ids[novel], prim[novel])]
    printed = float(re.search(r"recognition \(novel\)\s+([\d.]+) %", text).group(1))
    assert 100.0 * np.mean(hits) == pytest.approx(printed, abs=0.05)
    # the labels the learner attached travel in the snapshot
    for i in np.flatnonzero(train)[:10]:
        best = max(s.activate(x[i]), key=lambda mt: mt.similarity)
        assert prim[i] in best.labels


def test_sim_snapshot_loads_and_python_snapshot_resumes_in_rust(sim_snapshot, tmp_path):
    snap, live = sim_snapshot
    s = sattva.Substrate.load(snap)
    assert len(s) == live > 0
    a = s.attractors
    assert a.centers.shape == (live, s.dimensions) and a.centers.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.centers, axis=1), 1.0, atol=1e-5)
    assert all(len(labels) >= 1 for labels in a.labels)
    # Python writes, Rust resumes: the agent continues from the Python-saved file
    s.add_label(int(a.ids[0]), "from_python")
    info = s.save(tmp_path / "py.snap")
    assert len(info["hash"]) == 64 and info["step"] == s.step
    again = sattva.Substrate.load(tmp_path / "py.snap")
    b = again.attractors
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.centers, b.centers)
    assert "from_python" in b.labels[0]
    text = run_sattva("sim", "--episodes", "2", "--resume", str(tmp_path / "py.snap"),
                      "--snapshot", str(tmp_path / "resumed.snap"))
    m = re.search(r"attractors\s+(\d+) live", text)
    # the resumed agent starts from the Python-saved attractors; learning two episodes may merge
    # converging attractors (at most one merge per learned experience), never lose more
    assert m and int(m.group(1)) >= live - 2, text
    assert "resumed from" in text, text
    resumed = sattva.Substrate.load(tmp_path / "resumed.snap")
    assert resumed.step > s.step


def test_learn_creates_then_strengthens():
    s = sattva.Substrate(64, vigilance=0.9)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 64)).astype(np.float32)
    first = s.learn(a)
    assert first.created and first.similarity == -1.0 and first.id == 0
    again = s.learn(a * 3.0)  # same direction: inputs are normalised
    assert not again.created and again.id == first.id
    assert again.similarity == pytest.approx(1.0, abs=1e-5)
    other = s.learn(b)
    assert other.created and other.id != first.id
    assert len(s) == 2 and s.step == 3
    counters = s.counters()
    assert counters["created"] == 2 and counters["strengthened"] == 1
    ids, created, sim = s.learn_batch(np.stack([a, b, a]))
    assert ids.tolist() == [first.id, other.id, first.id] and not created.any()
    m = s.activate(a, k=1)
    assert len(m) == 1 and m[0].id == first.id and m[0].strength > 2.0


def test_float64_and_float32_inputs_learn_alike():
    x = np.random.default_rng(2).standard_normal((200, 32))
    a, b = sattva.Substrate(32, vigilance=0.3), sattva.Substrate(32, vigilance=0.3)
    ia, _, _ = a.learn_batch(x)  # float64: converted
    ib, _, _ = b.learn_batch(x.astype(np.float32))  # float32: read in place
    np.testing.assert_array_equal(ia, ib)
    # a non-contiguous view is read correctly too
    c = sattva.Substrate(32, vigilance=0.3)
    big = np.zeros((200, 64), dtype=np.float32)
    big[:, ::2] = x
    ic, _, _ = c.learn_batch(big[:, ::2])
    np.testing.assert_array_equal(ia, ic)


def test_bad_inputs_raise_and_change_nothing():
    s = sattva.Substrate(16)
    s.learn(np.ones(16, dtype=np.float32))
    with pytest.raises(TypeError, match=r"x: dtype int64 is not supported"):
        s.learn(np.ones(16, dtype=np.int64))
    with pytest.raises(TypeError, match="complex"):
        s.learn(np.ones(16, dtype=np.complex64))
    with pytest.raises(TypeError, match="expected a numpy array"):
        s.learn("not a vector")
    with pytest.raises(ValueError, match=r"x: shape \[15\], expected \(16,\)"):
        s.learn(np.ones(15, dtype=np.float32))
    with pytest.raises(ValueError, match=r"x: shape \[2, 16\], expected \(16,\)"):
        s.learn(np.ones((2, 16), dtype=np.float32))
    with pytest.raises(ValueError, match=r"x: shape \[4, 8\], expected \(n, 16\)"):
        s.learn_batch(np.ones((4, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="zero norm"):
        s.learn(np.zeros(16, dtype=np.float32))
    bad = np.random.default_rng(3).standard_normal((5, 16)).astype(np.float32)
    bad[2, 7] = np.nan
    with pytest.raises(ValueError, match=r"row 2: experience value \[7\] is not finite"):
        s.learn_batch(bad)
    assert len(s) == 1 and s.step == 1  # the good rows before row 2 were not learned either
    with pytest.raises(ValueError, match="unknown field `vigilanse`"):
        sattva.Substrate(16, vigilanse=0.5)
    with pytest.raises(ValueError, match="vigilance"):
        sattva.Substrate(16, vigilance=7.0)
    with pytest.raises(ValueError, match="dimensions"):
        sattva.Substrate(16, dim=32)
    with pytest.raises(KeyError, match="no live attractor with id 99"):
        s.add_label(99, "x")
    with pytest.raises(ValueError, match="before the substrate's current time"):
        s.learn(np.ones(16), t=5.0)
        s.learn(np.ones(16), t=1.0)
    with pytest.raises(sattva.SattvaError, match="nope.snap"):
        sattva.Substrate.load(ROOT / "nope.snap")


def test_damaged_snapshot_is_an_error(tmp_path):
    s = sattva.Substrate(8)
    s.learn_batch(np.eye(8, dtype=np.float32))
    p = tmp_path / "s.snap"
    s.save(p)
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))
    with pytest.raises(sattva.SattvaError, match="s.snap"):
        sattva.Substrate.load(p)


def test_strength_decays_on_the_substrates_clock():
    s = sattva.Substrate(8, strength_half_life_s=10.0, prune_floor=0.0)
    s.learn(np.eye(8, dtype=np.float32)[0], t=0.0)
    assert s.attractors.strengths[0] == pytest.approx(1.0)
    s.learn(np.eye(8, dtype=np.float32)[1], t=10.0)
    assert s.attractors.strengths[0] == pytest.approx(0.5, rel=1e-4)


def test_threads_share_a_substrate_and_the_gil_is_released():
    """Thread safety statement: one substrate may be used from several threads (calls are
    serialised by its lock); long calls release the GIL, so other Python threads run meanwhile."""
    s = sattva.Substrate(128, vigilance=0.95, capacity=1_000_000)
    rng = np.random.default_rng(4)
    batches = [rng.standard_normal((3000, 128)).astype(np.float32) for _ in range(4)]
    threads = [threading.Thread(target=s.learn_batch, args=(b,)) for b in batches]
    ticks = 0
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        ticks += 1
    for t in threads:
        t.join()
    assert s.step == 12000 and len(s) == 12000  # random directions: each its own attractor
    # the main thread kept running Python while the batches ran (with the GIL held it could not)
    assert ticks > 1000, ticks
