"""Bag: the agent's recordings and bags written by others (rosbags, the official rosbag2 writer),
decoded in Python and compared with the independent `rosbags` reader."""

import numpy as np
import pytest

import sattva

from conftest import DATA


def rosbags_messages(path, topic):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as r:
        conns = [c for c in r.connections if c.topic == topic]
        return [(t, r.deserialize(raw, c.msgtype)) for c, t, raw in r.messages(connections=conns)]


def test_agent_recording_matches_rosbags(recorded_bag):
    bag = sattva.Bag(recorded_bag)
    info = bag.info()
    topics = {t["name"]: t for t in info["topics"]}
    assert topics["/sattva/imu"]["type"] == "sensor_msgs/msg/Imu"
    assert topics["/sattva/joint_states"]["type"] == "sensor_msgs/msg/JointState"
    assert info["message_count"] == len(bag) > 1000 and info["warnings"] == []
    assert info["duration"] == pytest.approx(3.0, abs=0.1)
    imu = bag.imu("/sattva/imu")
    ref = rosbags_messages(recorded_bag, "/sattva/imu")
    assert len(ref) == len(imu["stamp"]) == topics["/sattva/imu"]["message_count"]
    np.testing.assert_array_equal(imu["log_time"], [t for t, _ in ref])
    np.testing.assert_array_equal(
        imu["gyr"], [[m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z] for _, m in ref])
    np.testing.assert_array_equal(
        imu["acc"],
        [[m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z] for _, m in ref])
    np.testing.assert_array_equal(
        imu["stamp"], [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for _, m in ref])
    js = bag.joint_states("/sattva/joint_states")
    jref = rosbags_messages(recorded_bag, "/sattva/joint_states")
    assert js["name"] == list(jref[0][1].name)
    np.testing.assert_array_equal(js["position"], [m.position for _, m in jref])
    # per message: the same values through the iterator
    msgs = list(bag.messages(topics=["/sattva/joint_states"]))
    assert len(msgs) == len(jref) and msgs[0].type == "sensor_msgs/msg/JointState"
    np.testing.assert_array_equal(msgs[5].data["velocity"], jref[5][1].velocity)
    assert msgs[5].header["stamp"] == js["stamp"][5]
    # the recorded IMU replays through the filter: finite unit quaternions
    dt = float(np.median(np.diff(imu["stamp"]))) * 1e-9
    q = sattva.OrientationFilter(dt).update_batch(imu["gyr"], imu["acc"])
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
def test_images_from_a_rosbags_writer(tmp_path, storage):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    Image, Header, Time = (ts.types[n] for n in (
        "sensor_msgs/msg/Image", "std_msgs/msg/Header", "builtin_interfaces/msg/Time"))
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 255, (6, 5, 3), dtype=np.uint8)
    depth = rng.integers(0, 65535, (4, 7), dtype=np.uint16)
    flt = rng.standard_normal((3, 2)).astype(np.float32)
    padded = np.zeros((6, 5 * 3 + 3), dtype=np.uint8)  # step 18 > 15: row padding
    padded[:, :15] = rgb.reshape(6, 15)
    frames = [
        ("rgb8", 6, 5, 18, padded.ravel(), rgb, 0),
        ("16UC1", 4, 7, 14, depth.astype(">u2").view(np.uint8).ravel(), depth, 1),
        ("32FC1", 3, 2, 8, flt.view(np.uint8).ravel(), flt, 0),
    ]
    path = tmp_path / "images"
    plugin = StoragePlugin.SQLITE3 if storage == "sqlite3" else StoragePlugin.MCAP
    with Writer(path, version=8, storage_plugin=plugin) as w:
        conn = w.add_connection("/camera/image", Image.__msgtype__, typestore=ts)
        for i, (enc, h, wd, step, data, _, big) in enumerate(frames):
            msg = Image(header=Header(stamp=Time(sec=100 + i, nanosec=5), frame_id="cam"),
                        height=h, width=wd, encoding=enc, is_bigendian=big, step=step,
                        data=np.ascontiguousarray(data))
            w.write(conn, 1_000 + i, ts.serialize_cdr(msg, Image.__msgtype__))
    bag = sattva.Bag(path)
    msgs = list(bag)
    assert [m.header["encoding"] for m in msgs] == ["rgb8", "16UC1", "32FC1"]
    for m, (_, _, _, _, _, want, _) in zip(msgs, frames):
        assert m.data.dtype == want.dtype and m.data.shape == want.shape
        np.testing.assert_array_equal(m.data, want)
    assert msgs[1].header["stamp"] == 101 * 10**9 + 5 and msgs[1].header["frame_id"] == "cam"
    assert msgs[0].log_time == 1000 and len(msgs[2].raw) > 24


def raw_talker(path):
    """The bag's /topic payloads read with the storages' own libraries (sqlite3, mcap)."""
    files = sorted(p for p in path.iterdir() if p.suffix in (".db3", ".mcap"))
    out = []
    for f in files:
        if f.suffix == ".db3":
            import sqlite3

            with sqlite3.connect(f) as db:
                out += [bytes(r[0]) for r in db.execute(
                    "SELECT m.data FROM messages m JOIN topics t ON m.topic_id = t.id "
                    "WHERE t.name = '/topic' ORDER BY m.timestamp")]
        else:
            from mcap.reader import make_reader

            with open(f, "rb") as fh:
                out += [m.data for _, _, m in make_reader(fh).iter_messages(topics=["/topic"])]
    return out


@pytest.mark.parametrize("name", ["mcap_talker", "sqlite3_talker"])
def test_official_rosbag2_bags(name):
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    path = DATA / "bags" / name
    bag = sattva.Bag(path, topics=["/topic"])
    ref = [ts.deserialize_cdr(raw, "std_msgs/msg/String").data for raw in raw_talker(path)]
    got = list(bag.messages())
    assert len(got) == len(ref) == 10
    assert [m.data["data"] for m in got] == ref
    assert [m.raw for m in got] == raw_talker(path)
    assert bag.info()["storage_identifier"] == name.split("_")[0]


def test_bag_errors(recorded_bag, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such bag"):
        sattva.Bag(tmp_path / "missing")
    (tmp_path / "junk.mcap").write_bytes(b"not an mcap file at all")
    with pytest.raises(sattva.SattvaError, match="junk.mcap"):
        sattva.Bag(tmp_path / "junk.mcap")
    bag = sattva.Bag(recorded_bag)
    with pytest.raises(KeyError, match="no topic `/imu`.*/sattva/imu"):
        bag.imu("/imu")
    with pytest.raises(ValueError, match="has type sensor_msgs/msg/JointState, not sensor_msgs/msg/Imu"):
        bag.imu("/sattva/joint_states")
    with pytest.raises(KeyError):
        bag.messages(topics=["/nope"])
