"""An operator as a real ROS 2 peer: switches sattva to `external` and commands a step.

Waits for joint states on STATES, publishes `external` on /sattva/mode, then for SECONDS
publishes (50 Hz) on /sattva/command either a position step of AMP rad on every joint from
where it stood (KIND=position), or an effort of AMP on every joint (KIND=effort, the
interface in layout.dim[0].label). Records every joint state it sees and prints
`RESULT OK {json}` with: the largest joint speed over WINDOW s windows of header stamps
(`max_speed`), the largest |effort| seen while commanding (`max_effort`), the largest
displacement from the start (`moved`), and how many states were seen.
usage: operator_step.py STATES KIND AMP SECONDS WINDOW
"""
import json
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension, String

states_topic, kind, amp, seconds, window = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
rclpy.init()
node = Node("operator_step")
seen = []  # (stamp s, positions, efforts, commanding)
commanding = False


commanding_since = None


def on_state(m):
    t = m.header.stamp.sec + m.header.stamp.nanosec * 1e-9
    # efforts count once the operator's command has had 0.5 s to take over (mode switch)
    settled = commanding and time.monotonic() - commanding_since > 0.5
    seen.append((t, list(m.position), list(m.effort), settled))


node.create_subscription(JointState, states_topic, on_state, qos_profile_sensor_data)
mode = node.create_publisher(String, "/sattva/mode", 10)
cmd = node.create_publisher(Float64MultiArray, "/sattva/command", 10)
deadline = time.monotonic() + 30.0
while not seen and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.05)
if not seen:
    print("RESULT FAIL no joint states on " + states_topic, flush=True)
    sys.exit(1)
# let the agent settle, then take the start pose
end = time.monotonic() + 1.0
while time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.01)
start = list(seen[-1][1])
n = len(start)
commanding = True
commanding_since = time.monotonic()
t_end = time.monotonic() + seconds
next_pub = 0.0
while time.monotonic() < t_end:
    now = time.monotonic()
    if now >= next_pub:
        next_pub = now + 0.02
        mode.publish(String(data="external"))
        m = Float64MultiArray()
        if kind == "effort":
            m.layout.dim = [MultiArrayDimension(label="effort", size=n, stride=n)]
            m.data = [amp] * n
        else:
            m.data = [q + amp for q in start]
        cmd.publish(m)
    rclpy.spin_once(node, timeout_sec=0.002)
commanding = False
mode.publish(String(data="hold"))
for _ in range(20):
    rclpy.spin_once(node, timeout_sec=0.01)

# speeds over windows of at least WINDOW s of the stamps (sensor noise averages out)
max_speed, moved, max_effort = 0.0, 0.0, 0.0
j = 0
for i in range(len(seen)):
    t, q, e, on = seen[i]
    moved = max(moved, max(abs(a - b) for a, b in zip(q, start)) if len(q) == n else 0.0)
    if on and e:
        max_effort = max(max_effort, max(abs(x) for x in e))
    while j < len(seen) and seen[j][0] - t < window:
        j += 1
    if j < len(seen) and len(seen[j][1]) == len(q):
        dt = seen[j][0] - t
        if dt > 0:
            max_speed = max(max_speed, max(abs(a - b) for a, b in zip(seen[j][1], q)) / dt)
print("RESULT OK " + json.dumps({"max_speed": max_speed, "max_effort": max_effort, "moved": moved, "states": len(seen)}), flush=True)
node.destroy_node()
rclpy.shutdown()
