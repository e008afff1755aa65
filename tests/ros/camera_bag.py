"""Writes a rosbag2 bag (rosbags' own writer) with a camera: colour Image (rgb8 or a JPEG
CompressedImage), depth Image 16UC1 (mm), CameraInfo, and an IMU at 200 Hz. Prints what
rosbags reads back from it (per topic type and count, start and end) as JSON.

usage: camera_bag.py OUT_DIR STORAGE(mcap|sqlite3) COLOR(raw|jpeg) SECONDS
       camera_bag.py read BAG      (rosbags' reading of any bag)
"""
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.enums import StoragePlugin
from rosbags.typesys import Stores, get_typestore

def describe(path):
    with Reader(path) as r:
        return {
            "start": r.start_time, "end": r.end_time, "count": r.message_count,
            "topics": {c.topic: [c.msgtype, c.msgcount] for c in r.connections},
        }


if sys.argv[1] == "read":
    print(json.dumps(describe(Path(sys.argv[2]))))
    sys.exit(0)
out, storage, color, seconds = Path(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
ts = get_typestore(Stores.ROS2_JAZZY)
Image = ts.types["sensor_msgs/msg/Image"]
CompressedImage = ts.types["sensor_msgs/msg/CompressedImage"]
CameraInfo = ts.types["sensor_msgs/msg/CameraInfo"]
Imu = ts.types["sensor_msgs/msg/Imu"]
Header = ts.types["std_msgs/msg/Header"]
Time = ts.types["builtin_interfaces/msg/Time"]
Quaternion = ts.types["geometry_msgs/msg/Quaternion"]
Vector3 = ts.types["geometry_msgs/msg/Vector3"]
RoI = ts.types["sensor_msgs/msg/RegionOfInterest"]

W, H = 160, 120
T0 = 1_700_000_000_000_000_000
rng = np.random.default_rng(5)
# a textured scene: random boxes; the camera pans 2 px per frame
scene = np.zeros((H, 4 * W, 3), np.uint8)
for _ in range(120):
    x, y = rng.integers(0, 4 * W - 20), rng.integers(0, H - 20)
    scene[y:y + rng.integers(5, 20), x:x + rng.integers(5, 20)] = rng.integers(0, 255, 3)
depth_scene = (800 + 40 * (np.arange(4 * W)[None, :] % 37) + np.zeros((H, 1))).astype(np.uint16)


def header(t):
    return Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id="camera")


store = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
with Writer(out, version=9, storage_plugin=store) as w:
    imu_c = w.add_connection("/imu/data", Imu.__msgtype__, typestore=ts)
    ctype = CompressedImage if color == "jpeg" else Image
    col_topic = "/camera/color/image_raw/compressed" if color == "jpeg" else "/camera/color/image_raw"
    col_c = w.add_connection(col_topic, ctype.__msgtype__, typestore=ts)
    dep_c = w.add_connection("/camera/depth/image_rect_raw", Image.__msgtype__, typestore=ts)
    inf_c = w.add_connection("/camera/color/camera_info", CameraInfo.__msgtype__, typestore=ts)
    n_imu = int(seconds * 200)
    events = [(T0 + i * 5_000_000, "imu", i) for i in range(n_imu)]
    events += [(T0 + 1_000_000 + i * 33_333_333, "cam", i) for i in range(int(seconds * 30))]
    events.sort()
    for t, kind, i in events:
        if kind == "imu":
            m = Imu(header=header(t), orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
                    orientation_covariance=np.zeros(9), angular_velocity=Vector3(x=0.0, y=0.0, z=0.1),
                    angular_velocity_covariance=np.zeros(9),
                    linear_acceleration=Vector3(x=0.0, y=0.0, z=9.81),
                    linear_acceleration_covariance=np.zeros(9))
            w.write(imu_c, t, ts.serialize_cdr(m, Imu.__msgtype__))
            continue
        x = (2 * i) % (3 * W)
        rgb = np.ascontiguousarray(scene[:, x:x + W])
        dep = np.ascontiguousarray(depth_scene[:, x:x + W])
        if color == "jpeg":
            buf = io.BytesIO()
            PILImage.fromarray(rgb).save(buf, format="JPEG", quality=90)
            cm = CompressedImage(header=header(t), format="jpeg",
                                 data=np.frombuffer(buf.getvalue(), np.uint8))
        else:
            cm = Image(header=header(t), height=H, width=W, encoding="rgb8", is_bigendian=0,
                       step=3 * W, data=rgb.reshape(-1))
        w.write(col_c, t, ts.serialize_cdr(cm, ctype.__msgtype__))
        dm = Image(header=header(t), height=H, width=W, encoding="16UC1", is_bigendian=0,
                   step=2 * W, data=dep.view(np.uint8).reshape(-1))
        w.write(dep_c, t, ts.serialize_cdr(dm, Image.__msgtype__))
        info = CameraInfo(header=header(t), height=H, width=W, distortion_model="plumb_bob",
                          d=np.zeros(5), k=np.array([100.0, 0, 80, 0, 100.0, 60, 0, 0, 1]),
                          r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                          roi=RoI(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
        w.write(inf_c, t, ts.serialize_cdr(info, CameraInfo.__msgtype__))

print(json.dumps(describe(out)))
