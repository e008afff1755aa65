"""sattva from Python: the Rust code the agent runs, with numpy in and out.

- :class:`Substrate`: the attractor substrate (learn, activate, recall, attractors, labels,
  snapshots shared with ``sattva sim`` / ``sattva run``);
- :class:`Encoder`: the experience encoder built from a sattva config file;
- :class:`Bag`: the rosbag2 reader (MCAP, sqlite3), messages decoded to dicts and ndarrays;
- :class:`OrientationFilter`: the VQF-style IMU orientation filter;
- :func:`load_broad_csv`, :func:`orientation_rmse`: the BROAD loader and error metric of
  ``sattva bench fusion``.

Errors of the Rust side raise :class:`SattvaError` (file, snapshot, config problems), bad
arguments ``ValueError`` / ``TypeError``; each carries the Rust message. Long calls release the
GIL; every object serialises its own calls with a lock, so objects may be shared between threads.
"""

from ._sattva import (
    Attractors,
    Bag,
    Encoder,
    Learned,
    Match,
    Message,
    MessageIter,
    OrientationFilter,
    SattvaError,
    Substrate,
    __version__,
    load_broad_csv,
    orientation_rmse,
)

__all__ = [
    "Attractors",
    "Bag",
    "Encoder",
    "Learned",
    "Match",
    "Message",
    "MessageIter",
    "OrientationFilter",
    "SattvaError",
    "Substrate",
    "__version__",
    "load_broad_csv",
    "orientation_rmse",
]
