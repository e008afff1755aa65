"""OrientationFilter: BROAD against vqf's C++ batch, zero-copy output, input errors."""

import numpy as np
import pytest

import sattva

from conftest import DATA

BROAD = DATA / "imu" / "broad_02_undisturbed_slow_rotation_B.csv"


@pytest.fixture(scope="module")
def trial():
    return sattva.load_broad_csv(BROAD)


def test_broad_matches_vqf(trial):
    vqf = pytest.importorskip("vqf")
    dt = float(np.median(np.diff(trial["t"])))
    f = sattva.OrientationFilter(dt)
    q = f.update_batch(trial["gyr"], trial["acc"], trial["mag"])
    assert q.shape == (len(trial["t"]), 4) and q.dtype == np.float64
    ours = sattva.orientation_rmse(q, trial["truth"], trial["score"].tolist())
    ref = vqf.VQF(dt).updateBatch(trial["gyr"], trial["acc"], trial["mag"])["quat9D"]
    theirs = sattva.orientation_rmse(ref, trial["truth"], trial["score"].tolist())
    assert ours["rows"] == theirs["rows"] > 10000
    # the figures of `sattva bench fusion` (BROAD 02: 0.429 / 0.709 deg for both)
    assert ours["inclination"] == pytest.approx(theirs["inclination"], abs=0.005)
    assert ours["heading"] == pytest.approx(theirs["heading"], abs=0.005)
    assert ours["inclination"] < 0.6 and ours["heading"] < 1.0


def test_update_batch_writes_into_out_without_copy(trial):
    n = 5000
    dt = float(np.median(np.diff(trial["t"])))
    out = np.empty((n, 4))
    f = sattva.OrientationFilter(dt)
    r = f.update_batch(trial["gyr"][:n], trial["acc"][:n], trial["mag"][:n], out=out)
    assert r is out
    assert r.__array_interface__["data"][0] == out.__array_interface__["data"][0]
    # sample by sample gives the same bits; float32 inputs are converted
    g = sattva.OrientationFilter(dt)
    one = np.array([g.update(trial["gyr"][i], trial["acc"][i], trial["mag"][i]) for i in range(n)])
    np.testing.assert_array_equal(one, out)
    h = sattva.OrientationFilter(dt)
    q32 = h.update_batch(trial["gyr"][:n].astype(np.float32), trial["acc"][:n].astype(np.float32))
    assert np.all(np.isfinite(q32)) and np.allclose(np.linalg.norm(q32, axis=1), 1.0)


def test_six_axis_without_magnetometer_is_relative_heading():
    # at rest, level: identity inclination, bias stays ~0
    n = 2000
    f = sattva.OrientationFilter(0.01)
    q = f.update_batch(np.zeros((n, 3)), np.tile([0.0, 0.0, 9.81], (n, 1)))
    np.testing.assert_allclose(q[-1], [1, 0, 0, 0], atol=1e-6)
    st = f.state()
    assert st["at_rest"] and not st["heading_from_mag"]


def test_bad_inputs():
    f = sattva.OrientationFilter(0.01)
    g, a = np.zeros((10, 3)), np.tile([0.0, 0.0, 9.81], (10, 1))
    with pytest.raises(ValueError, match=r"gyr: shape \[10, 2\], expected \(N, 3\)"):
        f.update_batch(np.zeros((10, 2)), a)
    with pytest.raises(ValueError, match=r"acc: shape \[9, 3\], expected \(10, 3\)"):
        f.update_batch(g, a[:9])
    with pytest.raises(TypeError, match="gyr: dtype int32 is not supported"):
        f.update_batch(np.zeros((10, 3), dtype=np.int32), a)
    with pytest.raises(ValueError, match=r"out: shape \[10, 3\], expected \(10, 4\)"):
        f.update_batch(g, a, out=np.empty((10, 3)))
    with pytest.raises(TypeError, match="out: must be C-contiguous"):
        f.update_batch(g, a, out=np.empty((4, 10)).T)
    with pytest.raises(ValueError, match="differs from the filter's"):
        f.update_batch(g, a, dt=0.02)
    with pytest.raises(ValueError, match="dt: 0 s"):
        sattva.OrientationFilter(0.0)
    with pytest.raises(ValueError, match="unknown field `tau_accel`"):
        sattva.OrientationFilter(0.01, tau_accel=2.0)
    with pytest.raises(sattva.SattvaError, match="missing.csv"):
        sattva.load_broad_csv("missing.csv")
