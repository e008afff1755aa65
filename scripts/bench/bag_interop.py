#!/usr/bin/env python3
"""Interop partner of sattva's rosbag2 reader/writer (tests/record_interop.rs) and its benchmark.

Subcommands (all print JSON on stdout):
  write-rosbags <bag_dir> <mcap|sqlite3> [none|file|message]
                                          write a bag with `rosbags` (optionally zstd-compressed
                                          per file or per message); print the messages written
  write-mcap-ros2 <file.mcap>             write an MCAP with `mcap-ros2-support`; print the messages
  read <bag_dir>                          read a bag with `rosbags` AND with `mcap`+`mcap-ros2-support`
                                          (MCAP storage only); print both message lists
  bench <bag_dir> <reps>                  read + deserialize every message with `rosbags`, best of reps

Message JSON: {"topic", "type", "log_time", "msg"} where msg uses the ROS field names; uint8[]
fields are lists of ints, float fields are floats.
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

T0 = 1_700_000_000_000_000_000
STEP = 1_000_000  # 1 ms between consecutive messages (all topics interleaved, no ties)


def header(i, frame):
    t = T0 + i * STEP
    return {"stamp": {"sec": t // 1_000_000_000, "nanosec": t % 1_000_000_000}, "frame_id": frame}


def quat(a):
    h = a / 2.0
    return {"x": 0.0, "y": 0.0, "z": math.sin(h), "w": math.cos(h)}


def vec(x, y, z):
    return {"x": float(x), "y": float(y), "z": float(z)}


def sample_messages(n=40):
    """Deterministic messages of every type sattva decodes, interleaved in time."""
    out = []
    i = 0
    for k in range(n):
        out.append(("/imu/data", "sensor_msgs/msg/Imu", {
            "header": header(i, "imu_link"),
            "orientation": quat(0.01 * k),
            "orientation_covariance": [0.001 * j for j in range(9)],
            "angular_velocity": vec(0.1 * k, -0.2, 1e-9 * k),
            "angular_velocity_covariance": [0.0] * 9,
            "linear_acceleration": vec(0.01, -0.02 * k, 9.80665),
            "linear_acceleration_covariance": [1.5] * 9,
        }))
        i += 1
        out.append(("/joint_states", "sensor_msgs/msg/JointState", {
            "header": header(i, ""),
            "name": ["shoulder", "elbow", "wrist"],
            "position": [0.1 * k, -0.5, 1.0 / 3.0],
            "velocity": [0.0, 0.25, -1e300],
            "effort": [] if k % 2 else [1.0, 2.0, 3.0],
        }))
        i += 1
        if k % 5 == 0:
            out.append(("/tf", "tf2_msgs/msg/TFMessage", {"transforms": [
                {"header": header(i, "world"), "child_frame_id": "base_link",
                 "transform": {"translation": vec(k, 2, 3), "rotation": quat(0.3)}},
                {"header": header(i, "base_link"), "child_frame_id": "imu_link",
                 "transform": {"translation": vec(0, 0, 0.1), "rotation": quat(-0.1 * k)}},
            ]}))
            i += 1
            out.append(("/camera/color/image_raw", "sensor_msgs/msg/Image", {
                "header": header(i, "camera"), "height": 2, "width": 3, "encoding": "rgb8",
                "is_bigendian": 0, "step": 9, "data": [(k * 7 + j) % 256 for j in range(18)],
            }))
            i += 1
            out.append(("/camera/color/camera_info", "sensor_msgs/msg/CameraInfo", {
                "header": header(i, "camera"), "height": 480, "width": 640,
                "distortion_model": "plumb_bob", "d": [0.1, -0.2, 0.0, 0.001, 0.0],
                "k": [600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0],
                "r": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                "p": [600.0, 0.0, 320.0, 0.0, 0.0, 600.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                "binning_x": 0, "binning_y": 1,
                "roi": {"x_offset": 1, "y_offset": 2, "height": 3, "width": 4, "do_rectify": True},
            }))
            i += 1
            out.append(("/points", "sensor_msgs/msg/PointCloud2", {
                "header": header(i, "camera"), "height": 1, "width": 2,
                "fields": [{"name": "x", "offset": 0, "datatype": 7, "count": 1},
                           {"name": "y", "offset": 4, "datatype": 7, "count": 1}],
                "is_bigendian": False, "point_step": 8, "row_step": 16,
                "data": list(np.array([1.0, 2.0, 3.0, float(k)], dtype="<f4").tobytes()),
                "is_dense": True,
            }))
            i += 1
            out.append(("/chatter", "std_msgs/msg/String", {"data": f"hello {k} \u00e9\u4e16"}))
            i += 1
            out.append(("/cmd", "std_msgs/msg/Float64MultiArray", {
                "layout": {"dim": [{"label": "joints", "size": 3, "stride": 3}], "data_offset": 0},
                "data": [0.5 * k, -1.25, 1e-12],
            }))
            i += 1
            out.append(("/cmd_vel", "geometry_msgs/msg/Twist", {
                "linear": vec(0.5, 0, 0), "angular": vec(0, 0, -0.1 * k)}))
            i += 1
            out.append(("/pose", "geometry_msgs/msg/Pose", {
                "position": {"x": 1.0, "y": -2.0, "z": 0.5 * k}, "orientation": quat(k)}))
            i += 1
    return [{"topic": t, "type": ty, "log_time": T0 + j * STEP, "msg": m}
            for j, (t, ty, m) in enumerate(out)]


# --- rosbags --------------------------------------------------------------------------------

def typestore():
    from rosbags.typesys import Stores, get_typestore
    return get_typestore(Stores.ROS2_JAZZY)


NP = {"float64": np.float64, "float32": np.float32, "uint8": np.uint8, "int8": np.int8,
      "uint16": np.uint16, "int16": np.int16, "uint32": np.uint32, "int32": np.int32,
      "uint64": np.uint64, "int64": np.int64, "bool": np.bool_}


def build(ts, typename, d):
    """JSON dict -> rosbags message object."""
    from rosbags.typesys.base import Nodetype
    _, fields = ts.fielddefs[typename]
    kw = {}
    for name, (nt, det) in fields:
        v = d[name]
        if nt == Nodetype.BASE:
            kw[name] = v
        elif nt == Nodetype.NAME:
            kw[name] = build(ts, det, v)
        else:
            (snt, sdet), _ = det
            if snt == Nodetype.BASE and sdet[0] != "string":
                kw[name] = np.array(v, dtype=NP[sdet[0]])
            elif snt == Nodetype.BASE:
                kw[name] = list(v)
            else:
                kw[name] = [build(ts, sdet, x) for x in v]
    return ts.types[typename](**kw)


def to_json(v):
    """rosbags / mcap-ros2 message object -> JSON-able dict with ROS field names."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (bytes, bytearray)):
        return list(v)
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (bool, int, float, str)):
        return v
    if hasattr(v, "__dataclass_fields__"):
        import dataclasses
        return {f.name: to_json(getattr(v, f.name)) for f in dataclasses.fields(v)
                if f.name != "__msgtype__" and not f.name.isupper()}  # constants are UPPER
    if hasattr(v, "__slots__"):
        return {k: to_json(getattr(v, k)) for k in v.__slots__ if not k.isupper()}
    raise TypeError(f"cannot convert {type(v)}")


def write_rosbags(bag_dir, storage, compression="none"):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
    ts = typestore()
    msgs = sample_messages()
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    w = Writer(Path(bag_dir), version=9, storage_plugin=plugin)
    if compression != "none":
        w.set_compression(CompressionMode[compression.upper()], CompressionFormat.ZSTD)
    with w:
        conns = {}
        for m in msgs:
            if m["topic"] not in conns:
                conns[m["topic"]] = w.add_connection(m["topic"], m["type"], typestore=ts)
            data = ts.serialize_cdr(build(ts, m["type"], m["msg"]), m["type"])
            w.write(conns[m["topic"]], m["log_time"], data)
    return msgs


def write_mcap_ros2(path):
    from mcap_ros2.writer import Writer
    ts = typestore()
    msgs = sample_messages()
    with open(path, "wb") as f:
        w = Writer(f)
        schemas = {}
        for seq, m in enumerate(msgs):
            if m["type"] not in schemas:
                text, _ = ts.generate_msgdef(m["type"], ros_version=2)
                schemas[m["type"]] = w.register_msgdef(m["type"], text)
            w.write_message(m["topic"], schemas[m["type"]], to_mcap_input(m["msg"]),
                            log_time=m["log_time"], publish_time=m["log_time"] + 7,
                            sequence=seq)
        w.finish()
    for m in msgs:
        m["publish_time"] = m["log_time"] + 7
    return msgs


def to_mcap_input(d):
    """uint8[] fields as bytes (mcap-ros2-support wants bytes or array('B'))."""
    if isinstance(d, dict):
        return {k: (bytes(v) if k == "data" and isinstance(v, list) and v
                    and all(isinstance(x, int) for x in v) and "height" in d else to_mcap_input(v))
                for k, v in d.items()}
    if isinstance(d, list):
        return [to_mcap_input(x) for x in d]
    return d


def read_rosbags(bag_dir):
    from rosbags.highlevel import AnyReader
    out = []
    with AnyReader([Path(bag_dir)], default_typestore=typestore()) as r:
        for c, t, raw in r.messages():
            out.append({"topic": c.topic, "type": c.msgtype, "log_time": t,
                        "msg": to_json(r.deserialize(raw, c.msgtype))})
    return out


def read_mcap(bag_dir):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    out = []
    for f in sorted(Path(bag_dir).glob("*.mcap")):
        with open(f, "rb") as fh:
            r = make_reader(fh, decoder_factories=[DecoderFactory()])
            for schema, ch, m, d in r.iter_decoded_messages(log_time_order=True):
                out.append({"topic": ch.topic, "type": schema.name, "log_time": m.log_time,
                            "publish_time": m.publish_time, "msg": to_json(d)})
    return out


def bench(bag_dir, reps):
    """Read + deserialize every message with rosbags; best wall time of reps."""
    from rosbags.highlevel import AnyReader
    ts = typestore()
    best = float("inf")
    n = 0
    for _ in range(reps):
        t = time.perf_counter()
        n = 0
        with AnyReader([Path(bag_dir)], default_typestore=ts) as r:
            for c, _t, raw in r.messages():
                r.deserialize(raw, c.msgtype)
                n += 1
        best = min(best, time.perf_counter() - t)
    return {"messages": n, "seconds": best}


def main():
    cmd = sys.argv[1]
    if cmd == "write-rosbags":
        res = write_rosbags(sys.argv[2], sys.argv[3], *sys.argv[4:5])
    elif cmd == "write-mcap-ros2":
        res = write_mcap_ros2(sys.argv[2])
    elif cmd == "read":
        res = {"rosbags": read_rosbags(sys.argv[2]), "mcap": read_mcap(sys.argv[2])}
    elif cmd == "bench":
        res = bench(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {cmd}")
    json.dump(res, sys.stdout)


if __name__ == "__main__":
    main()
