"""rclpy side of `sattva bench ros`.

listen SECONDS: subscribes to /sattva_bench/rt (published by sattva's RT task through the bridge
and the r2r node) and /sattva_bench/rclpy (published by a second rclpy process); each message's
header.stamp is CLOCK_MONOTONIC at publish time; prints JSON with latency percentiles per topic.
talk SECONDS RATE: publishes JointState on /sattva_bench/rclpy at RATE Hz, stamped the same way.
"""
import json
import sys
import time

import rclpy
from rclpy.node import Node

from sensor_msgs.msg import JointState

# sensor-data QoS on both paths: what sattva uses for /joint_states
from rclpy.qos import qos_profile_sensor_data as QOS  # noqa: E402


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * q))] if v else None


mode, seconds = sys.argv[1], float(sys.argv[2])
rclpy.init()
node = Node(f"sattva_bench_{mode}")
if mode == "listen":
    lat = {"rt": [], "rclpy": []}

    def cb(key):
        def f(m):
            lat[key].append(mono_ns() - (m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec))
        return f

    node.create_subscription(JointState, "/sattva_bench/rt", cb("rt"), QOS)
    node.create_subscription(JointState, "/sattva_bench/rclpy", cb("rclpy"), QOS)
    print("READY", flush=True)
    end = time.time() + seconds
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.01)
    out = {k: {"n": len(v), "p50_us": (pct(v, 0.5) or 0) / 1e3, "p99_us": (pct(v, 0.99) or 0) / 1e3,
               "max_us": (max(v) if v else 0) / 1e3} for k, v in lat.items()}
    print("RESULT " + json.dumps(out), flush=True)
else:
    rate = float(sys.argv[3])
    pub = node.create_publisher(JointState, "/sattva_bench/rclpy", QOS)
    msg = JointState(name=["a", "b", "c", "d"], position=[0.0] * 4, velocity=[0.0] * 4, effort=[0.0] * 4)
    end = time.time() + seconds
    next_t = time.time()
    while time.time() < end:
        ns = mono_ns()
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
        pub.publish(msg)
        next_t += 1.0 / rate
        time.sleep(max(0.0, next_t - time.time()))
node.destroy_node()
rclpy.shutdown()
