#!/usr/bin/env python3
"""Reference orientation filters for `sattva bench fusion`.

Reads the IMU samples that sattva wrote (binary little-endian f64, N rows of
t, gyr[3] rad/s, acc[3] m/s^2, mag[3] (NaN = no magnetometer)), runs every
reference filter on exactly these samples and writes, per filter, the estimated
orientations (N x [w, x, y, z], sensor-to-earth, f64 LE) plus one tab-separated line per
filter: name, file, ns per update, how it ran (or name, ERROR, message). The error metric is computed on the Rust
side, with the same code for every filter.

Filters: vqf 2.1.2 (VQF, default parameters, C++ batch), imufusion 1.3.3 (x-io
Fusion, settings of its example, C extension called per sample), ahrs 0.4.0
Madgwick (beta 0.12) and Mahony (Kp 0.74, Ki 0.0012), the BROAD paper's tuned
values, pure Python per sample. Madgwick/Mahony start from the accelerometer
(+magnetometer) of the first gravity-like sample (as BROAD's example code does
with the first sample); vqf and Fusion initialise themselves.
"""
import sys
import time

import numpy as np


def quat_from_matrix(r):
    """Sensor-to-earth quaternion [w, x, y, z] from a rotation matrix (rows = earth axes)."""
    w = np.sqrt(max(0.0, 1 + r[0, 0] + r[1, 1] + r[2, 2])) / 2
    x = np.copysign(np.sqrt(max(0.0, 1 + r[0, 0] - r[1, 1] - r[2, 2])) / 2, r[2, 1] - r[1, 2])
    y = np.copysign(np.sqrt(max(0.0, 1 - r[0, 0] + r[1, 1] - r[2, 2])) / 2, r[0, 2] - r[2, 0])
    z = np.copysign(np.sqrt(max(0.0, 1 - r[0, 0] - r[1, 1] + r[2, 2])) / 2, r[1, 0] - r[0, 1])
    q = np.array([w, x, y, z])
    return q / np.linalg.norm(q)


def initial_nwu(acc, mag):
    """Orientation in a North-West-Up earth frame from one accelerometer (+ magnetometer) sample."""
    up = acc / np.linalg.norm(acc)
    if mag is None or not np.all(np.isfinite(mag)):
        # no heading reference: any horizontal x axis
        ref = np.array([1.0, 0, 0]) if abs(up[0]) < 0.9 else np.array([0, 1.0, 0])
        east = np.cross(ref, up)
    else:
        east = np.cross(mag, up)
    east /= np.linalg.norm(east)
    north = np.cross(up, east)
    r = np.vstack([north, -east, up])  # rows: earth axes in sensor coordinates
    return quat_from_matrix(r)


def run_vqf(t, gyr, acc, mag, dt):
    from vqf import VQF
    f = VQF(dt)
    g, a = np.ascontiguousarray(gyr), np.ascontiguousarray(acc)
    start = time.perf_counter()
    if mag is None:
        out = f.updateBatch(g, a)
        q = out["quat6D"]
    else:
        out = f.updateBatch(g, a, np.ascontiguousarray(mag))
        q = out["quat9D"]
    return q, time.perf_counter() - start, "C++ batch (updateBatch)"


def run_imufusion(t, gyr, acc, mag, dt):
    import imufusion
    rate = 1.0 / dt
    bias_settings = imufusion.BiasSettings()
    bias_settings.sample_rate = rate
    bias = imufusion.Bias()
    bias.set_settings(bias_settings)
    # the settings of x-io's example: gain 0.5, gyro range 2000 deg/s, rejection 10 deg, 5 s timeout
    s = imufusion.AhrsSettings()
    s.convention = imufusion.CONVENTION_NWU
    s.gain = 0.5
    s.gyroscope_range = 2000.0
    s.acceleration_rejection = 10.0
    s.magnetic_rejection = 10.0
    s.rejection_timeout = int(5 * rate)
    s.sample_rate = rate
    ahrs = imufusion.Ahrs()
    ahrs.set_settings(s)
    gdeg = np.rad2deg(gyr)
    ag = acc / 9.80665
    q = np.zeros((len(t), 4))
    start = time.perf_counter()
    for i in range(len(t)):
        g = bias.update(gdeg[i])
        if mag is None:
            ahrs.update_no_magnetometer(g, ag[i])
        else:
            ahrs.update(g, ag[i], mag[i])
        q[i] = ahrs.get_quaternion()
    return q, time.perf_counter() - start, "C extension, Python loop"


def run_ahrs(cls, kwargs, t, gyr, acc, mag, dt):
    f = cls(frequency=1.0 / dt, **kwargs)
    q = np.zeros((len(t), 4))
    # start from the first sample that looks like gravity alone (a simulator's very first
    # sample may carry no data yet); earlier rows get that same orientation
    dev = np.abs(np.linalg.norm(acc, axis=1) - 9.81)
    i0 = int(np.argmax(dev < 2.0)) if np.any(dev < 2.0) else 0
    q[: i0 + 1] = initial_nwu(acc[i0], None if mag is None else mag[i0])
    start = time.perf_counter()
    for i in range(i0 + 1, len(t)):
        if mag is None:
            q[i] = f.updateIMU(q[i - 1], gyr[i], acc[i], dt=dt)
        else:
            q[i] = f.updateMARG(q[i - 1], gyr[i], acc[i], mag[i], dt=dt)
    return q, time.perf_counter() - start, "pure Python loop"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fusion_reference.py SAMPLES.f64 OUT_PREFIX")
    raw = np.fromfile(sys.argv[1], dtype="<f8")
    if raw.size == 0 or raw.size % 10 != 0:
        sys.exit(f"{sys.argv[1]}: expected N x 10 f64 values, got {raw.size}")
    d = raw.reshape(-1, 10)
    t, gyr, acc, mag = d[:, 0], d[:, 1:4], d[:, 4:7], d[:, 7:10]
    if not np.all(np.isfinite(mag)):
        mag = None
    dt = float(np.median(np.diff(t)))
    from ahrs.filters import Madgwick, Mahony

    runs = [
        ("vqf", lambda: run_vqf(t, gyr, acc, mag, dt)),
        ("imufusion", lambda: run_imufusion(t, gyr, acc, mag, dt)),
        ("ahrs_madgwick", lambda: run_ahrs(Madgwick, {"gain": 0.12}, t, gyr, acc, mag, dt)),
        ("ahrs_mahony", lambda: run_ahrs(Mahony, {"k_P": 0.74, "k_I": 0.0012}, t, gyr, acc, mag, dt)),
    ]
    for name, fn in runs:
        try:
            q, secs, how = fn()
        except Exception as e:  # report and go on with the other filters
            msg = f"{type(e).__name__}: {e}".replace("\t", " ").replace("\n", " ")
            print(f"{name}\tERROR\t{msg}", flush=True)
            continue
        q = np.ascontiguousarray(q, dtype="<f8")
        path = f"{sys.argv[2]}.{name}.f64"
        q.tofile(path)
        print(f"{name}\t{path}\t{1e9 * secs / len(t):.1f}\t{how}", flush=True)


if __name__ == "__main__":
    main()
