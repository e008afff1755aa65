"""A fake ros2_control robot for tests: a real ROS 2 peer.

Publishes sensor_msgs/JointState at RATE Hz with the joints in REVERSED order (robots publish
in their own order), follows Float64MultiArray position commands (controller joint order = the
given order) with a first-order lag, stops publishing after STOP_AFTER s (the watchdog case) and
keeps listening until TOTAL s; then prints JSON with every command received and final positions.
With SILENT_FOR, the driver is silent for that long only and then publishes again (a driver
hiccup); JOINT_STATES_TOPIC defaults to /joint_states.
usage: fake_robot.py NAMES(comma) INITIAL(comma) RATE STOP_AFTER TOTAL COMMAND_TOPIC
       [SILENT_FOR [JOINT_STATES_TOPIC]] [--trajectory] [--drift RAD_PER_S]
--trajectory: the commands are trajectory_msgs/JointTrajectory (joint_trajectory_controller);
each is recorded with its joint names, points and time_from_start, and its first point's
positions are followed BY NAME. --drift: the robot moves on its own (every joint's target grows
by RAD_PER_S), as an arm pushed or sagging does.
"""
import json
import sys
import time

import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from trajectory_msgs.msg import JointTrajectory

argv = list(sys.argv)
trajectory = "--trajectory" in argv
if trajectory:
    argv.remove("--trajectory")
drift = 0.0
if "--drift" in argv:
    k = argv.index("--drift")
    drift = float(argv[k + 1])
    del argv[k:k + 2]
sys.argv = argv
trajectories = []

names = sys.argv[1].split(",")
pos = [float(x) for x in sys.argv[2].split(",")]
rate, stop_after, total, topic = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
silent_for = float(sys.argv[7]) if len(sys.argv) > 7 else float("inf")
states_topic = sys.argv[8] if len(sys.argv) > 8 else "/joint_states"
target = list(pos)
commands = []

rclpy.init()
node = Node("fake_robot")
pub = node.create_publisher(JointState, states_topic, 10)


def on_cmd(m):
    commands.append([time.monotonic()] + list(m.data))
    if len(m.data) == len(names):
        target[:] = list(m.data)


def on_trajectory(m):
    t = time.monotonic()
    trajectories.append({
        "joint_names": list(m.joint_names),
        "points": [{"positions": list(p.positions), "sec": p.time_from_start.sec,
                    "nanosec": p.time_from_start.nanosec} for p in m.points],
    })
    if m.points:
        by_name = dict(zip(m.joint_names, m.points[0].positions))
        commands.append([t] + [by_name.get(n, float("nan")) for n in names])
        if all(n in by_name for n in names):
            target[:] = [by_name[n] for n in names]


if trajectory:
    node.create_subscription(JointTrajectory, topic, on_trajectory, 1000)
else:
    node.create_subscription(Float64MultiArray, topic, on_cmd, 1000)
print("READY", flush=True)
start = time.monotonic()
next_t = start
stopped_at = None
resumed_at = None
while time.monotonic() - start < total:
    now = time.monotonic()
    if now >= next_t:
        # the robot's physics advance one tick per 1/rate of its own clock: stamp each state
        # with its tick's time, so ticks caught up after a stall on a loaded machine are not
        # squeezed into a few microseconds of stamps (a speed the robot never had)
        tick_late = now - next_t
        next_t += 1.0 / rate
        for i in range(len(pos)):
            target[i] += drift / rate
            pos[i] += (target[i] - pos[i]) * 0.2
        silent = stop_after <= now - start < stop_after + silent_for
        if not silent:
            if stopped_at is not None and resumed_at is None:
                resumed_at = now - start
            m = JointState()
            stamp_ns = node.get_clock().now().nanoseconds - int(tick_late * 1e9)
            m.header.stamp.sec, m.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
            m.name = list(reversed(names))
            m.position = list(reversed(pos))
            m.velocity = [0.0] * len(pos)
            pub.publish(m)
        elif stopped_at is None:
            stopped_at = now - start
    rclpy.spin_once(node, timeout_sec=0.0005)
print("RESULT " + json.dumps({"commands": commands, "final": pos, "stopped_at": stopped_at,
                              "resumed_at": resumed_at, "trajectories": trajectories}), flush=True)
node.destroy_node()
rclpy.shutdown()
