"""A subscriber of sattva's STL monitors as a real ROS 2 peer.

Collects COUNT `sattva_msgs/MonitorState` messages from TOPIC and every `sensor_msgs/JointState`
from STATES (stamp -> first joint's position and velocity), then prints
`RESULT OK {json}` with, per monitor message: its stamp (s), names, robustness (NaN as null),
violated, violations, onsets, hold_cycles, and the first joint's position at the same stamp
(null when that joint state was not received: sensor-data QoS may drop some). The checks are
the test's (tests/monitor_ros.rs).
usage: monitor_check.py TOPIC STATES COUNT
"""
import json
import math
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from sattva_msgs.msg import MonitorState

topic, states_topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rclpy.init()
node = Node("monitor_check")
monitors = []
positions = {}


def stamp(h):
    return h.stamp.sec * 1_000_000_000 + h.stamp.nanosec


def on_state(m):
    if m.position:
        positions[stamp(m.header)] = m.position[0]


node.create_subscription(JointState, states_topic, on_state, qos_profile_sensor_data)
node.create_subscription(MonitorState, topic, monitors.append, 100)
deadline = time.monotonic() + 60.0
while len(monitors) < count and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
# the joint states of the last stamps may still be on their way
end = time.monotonic() + 0.3
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.01)
if len(monitors) < count:
    print(f"RESULT FAIL {len(monitors)} of {count} monitor messages on {topic}", flush=True)
    sys.exit(1)
out = []
for m in monitors:
    ns = stamp(m.header)
    out.append({
        "t": ns * 1e-9,
        "names": list(m.names),
        "robustness": [None if math.isnan(r) else r for r in m.robustness],
        "violated": [bool(v) for v in m.violated],
        "violations": [int(v) for v in m.violations],
        "onsets": [int(v) for v in m.onsets],
        "hold_cycles": int(m.hold_cycles),
        "pos0": positions.get(ns),
    })
print("RESULT OK " + json.dumps(out), flush=True)
node.destroy_node()
rclpy.shutdown()
