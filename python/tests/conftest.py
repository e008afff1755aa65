"""Fixtures: the `sattva` CLI of this checkout (the Rust side of the round trips) and its outputs."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# real data made by others (../shared/data beside the checkout, as the Rust tests read it; a git
# worktree one level deeper; or $SATTVA_DATA)
DATA = next(
    (p for p in (Path(os.environ.get("SATTVA_DATA", "/nonexistent")),
                 ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
     if p.is_dir()),
    ROOT.parent / "shared" / "data",
)


def _sattva_bin() -> Path:
    """`$SATTVA_BIN`, else target/debug/sattva (built by `cargo test`; built here if missing)."""
    if os.environ.get("SATTVA_BIN"):
        return Path(os.environ["SATTVA_BIN"])
    exe = ROOT / "target" / "debug" / "sattva"
    if not exe.exists():
        subprocess.run(["cargo", "build", "--bin", "sattva"], cwd=ROOT, check=True)
    return exe


def run_sattva(*args: str, cwd: Path = ROOT) -> str:
    """Runs the CLI; fails the test with its output when it fails."""
    p = subprocess.run(
        [str(_sattva_bin()), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "RUST_LOG": "warn"},
    )
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"sattva {' '.join(args)} failed:\n{out}"
    return out


@pytest.fixture(scope="session")
def literacy(tmp_path_factory):
    """`sattva eval literacy` (short): experiences.csv + substrate.snap + the printed report."""
    out = tmp_path_factory.mktemp("literacy")
    text = run_sattva("eval", "literacy", "--train", "48", "--novel", "12", "--out", str(out))
    return out, text


@pytest.fixture(scope="session")
def sim_snapshot(tmp_path_factory):
    """`sattva sim --episodes 30 --snapshot FILE`: the file and the summary's live attractor count."""
    snap = tmp_path_factory.mktemp("sim") / "substrate.snap"
    text = run_sattva("sim", "--episodes", "30", "--snapshot", str(snap))
    m = re.search(r"attractors\s+(\d+) live", text)
    assert m, text
    return snap, int(m.group(1))


@pytest.fixture(scope="session")
def recorded_bag(tmp_path_factory):
    """A bag `sattva run --fast` recorded (MCAP: IMU, joint states, commands, contacts)."""
    d = tmp_path_factory.mktemp("rec")
    text = run_sattva(
        "run", "--fast", "--no-ros", "--duration", "3",
        "-p", "record.enabled=true", "-p", f"record.dir={d}",
    )
    m = re.search(r"recorded: (\S+)", text)
    assert m, text
    return Path(m.group(1))
