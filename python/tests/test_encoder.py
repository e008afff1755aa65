"""Encoder built from a sattva config file: the learner's modalities, determinism, zero copy, errors."""

import numpy as np
import pytest

import sattva

from conftest import ROOT

SIM = ROOT / "config" / "sim.yaml"


def states(rng, joints=4, contacts=1):
    def one():
        q = rng.standard_normal(4)
        return {
            "orientation": q / np.linalg.norm(q),
            "angular_velocity": rng.standard_normal(3),
            "linear_accel": rng.standard_normal(3),
            "joint_position": rng.standard_normal(joints),
            "joint_velocity": rng.standard_normal(joints),
            "joint_effort": rng.standard_normal(joints),
            "contact_force": rng.random(contacts),
        }
    return one(), {"mode": "position", "values": rng.standard_normal(joints)}, one()


def test_encoder_of_the_sim_config():
    e = sattva.Encoder(SIM, joints=4, contacts=1)
    assert e.dim == 256
    names = [m[0] for m in e.modalities]
    # the learner's course profiles follow the built-in blocks (config/sim.yaml: 8 bins)
    assert names[-2:] == ["joint_trajectory", "touch_profile"]
    assert e.modalities[-2][1] == 4 * 8 and e.modalities[-1][1] == 8
    b, c, a = states(np.random.default_rng(0))
    v = e.encode(b, c, a, update_stats=True)
    assert v.shape == (256,) and v.dtype == np.float32
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    # same config, same inputs in the same order: the same bits (the agent is deterministic)
    e2 = sattva.Encoder(SIM, joints=4, contacts=1)
    np.testing.assert_array_equal(e2.encode(b, c, a, update_stats=True), v)
    # the profile modality changes the vector; another seed changes the projection
    traj = {"joint_trajectory": np.linspace(0, 1, 32, dtype=np.float32)}
    assert not np.array_equal(e2.encode(b, c, a, extra=traj), e2.encode(b, c, a))
    e3 = sattva.Encoder(SIM, joints=4, contacts=1, overrides=["seed=8"])
    assert abs(float(e3.encode(b, c, a) @ e2.encode(b, c, a))) < 0.9


def test_encode_into_out_without_copy():
    e = sattva.Encoder(SIM, joints=4, contacts=1)
    out = np.zeros(256, dtype=np.float32)
    b, c, a = states(np.random.default_rng(1))
    r = e.encode(b, c, a, out=out)
    assert r is out and r.__array_interface__["data"][0] == out.__array_interface__["data"][0]
    assert np.linalg.norm(out) == pytest.approx(1.0, abs=1e-5)


def test_encoder_errors():
    with pytest.raises(sattva.SattvaError, match="nope.yaml"):
        sattva.Encoder(ROOT / "config" / "nope.yaml", joints=4)
    with pytest.raises(sattva.SattvaError, match=r"encode\.dim"):
        sattva.Encoder(SIM, joints=4, overrides=["encode.dim=3"])
    e = sattva.Encoder(SIM, joints=4, contacts=1)
    b, c, a = states(np.random.default_rng(2))
    with pytest.raises(ValueError, match=r"before\[\"joint_position\"\]: shape \[3\], expected \(4,\)"):
        e.encode({**b, "joint_position": np.zeros(3)}, c, a)
    with pytest.raises(ValueError, match="unknown key \"joint_positions\""):
        e.encode({"joint_positions": np.zeros(4)}, c, a)
    with pytest.raises(ValueError, match="\"teleport\" is not position"):
        e.encode(b, {"mode": "teleport"}, a)
    with pytest.raises(ValueError, match="unknown modality \"visual\""):
        e.encode(b, c, a, extra={"visual": np.zeros(160)})
    with pytest.raises(TypeError, match="dtype bool is not supported"):
        e.encode(b, c, a, extra={"touch_profile": np.zeros(8, dtype=bool)})
    with pytest.raises(ValueError, match=r"out: shape \[10\]"):
        e.encode(b, c, a, out=np.zeros(10, dtype=np.float32))
