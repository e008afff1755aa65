"""rclpy peer for tests/ros_node.rs: talks to a running `sattva run` node and checks what it sees.

Prints one line per check and `RESULT OK` at the end; exits 1 with the failed check otherwise.
usage: node_check.py <expected imu frame_id> <expected seed param> <timeout s>
"""
import math
import sys
import time

import rclpy

import peer
from peer import check, fail
from rclpy.qos import qos_profile_sensor_data
from rcl_interfaces.srv import GetParameters
from diagnostic_msgs.msg import DiagnosticArray
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger

IMU_FRAME, SEED, TIMEOUT = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
JOINTS = ["shoulder_yaw", "shoulder_pitch", "elbow", "wrist"]


class Peer(peer.Peer):
    def __init__(self):
        super().__init__("sattva_test_peer")
        self.js, self.imu, self.diag, self.clock = [], [], [], []
        self.create_subscription(JointState, "/joint_states", self.js.append, qos_profile_sensor_data)
        self.create_subscription(Imu, "/imu/data", self.imu.append, qos_profile_sensor_data)
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)
        self.create_subscription(Clock, "/clock", self.clock.append, qos_profile_sensor_data)
        self.cmd = self.create_publisher(Float64MultiArray, "/sattva/command", 10)
        self.mode = self.create_publisher(String, "/sattva/mode", 10)


def stamp_s(h):
    return h.stamp.sec + h.stamp.nanosec * 1e-9


rclpy.init()
p = Peer()
check(p.spin_until(lambda: len(p.js) >= 50 and len(p.imu) >= 50 and p.diag and p.clock, TIMEOUT),
      f"received joint_states/imu/diagnostics/clock (got {len(p.js)}/{len(p.imu)}/{len(p.diag)}/{len(p.clock)})")
# the agent explores (action.source auto): hold it still, so the gravity check below measures a
# resting arm whatever the discovery timing (0.6 s of sim time to come to rest)
held_at = stamp_s(p.imu[-1].header)
p.mode.publish(String(data="hold"))
check(p.spin_until(lambda: stamp_s(p.imu[-1].header) >= held_at + 0.6, TIMEOUT),
      f"imu 0.6 s after the hold ({stamp_s(p.imu[-1].header):.3f})")

js = p.js[-1]
check(list(js.name) == JOINTS, f"joint names {list(js.name)}")
check(len(js.position) == 4 and len(js.velocity) == 4, "4 positions and velocities")
check(js.header.frame_id == "base_link", f"joint_states frame_id '{js.header.frame_id}'")
stamps = [stamp_s(m.header) for m in p.js]
check(all(b > a for a, b in zip(stamps, stamps[1:])), "joint_states stamps strictly increase")
# sim time: stamps are multiples of the 2 ms control period, and /clock carries the same time base
check(all(abs(s * 500 - round(s * 500)) < 1e-6 for s in stamps), "stamps are on the 2 ms sim-time grid")
clock_s = [c.clock.sec + c.clock.nanosec * 1e-9 for c in p.clock]
check(abs(max(clock_s) - max(stamps)) < 0.5, f"/clock ({max(clock_s):.3f}) matches frame stamps ({max(stamps):.3f})")
check(max(stamps) < 60, "stamps are sim time since start, not wall time")

imu = p.imu[-1]
check(imu.header.frame_id == IMU_FRAME, f"imu frame_id '{imu.header.frame_id}' (command-line override)")
# The IMU sits on the arm's end effector (config/sim.yaml); the arm holds (mode hold above), so
# the accelerometer measures gravity alone: |a| = 9.81 m/s^2
# (MuJoCo's default gravity) up to the configured noise (0.05 + bias 0.02), averaged over the
# last 100 samples.
def norm(v):
    return math.sqrt(v.x ** 2 + v.y ** 2 + v.z ** 2)


accs = [norm(m.linear_acceleration) for m in p.imu[-100:]]
acc = sum(accs) / len(accs)
check(abs(acc - 9.81) < 0.3, f"|accel| {acc:.3f} m/s^2 is gravity (9.81 +- 0.3)")
check(abs(imu.orientation_covariance[0] - 0.0027) < 1e-9, "fused orientation with its declared roll/pitch variance")
q = imu.orientation
check(abs(math.sqrt(q.w ** 2 + q.x ** 2 + q.y ** 2 + q.z ** 2) - 1) < 1e-6, "orientation is a unit quaternion")


def up_in_body(q):
    # world z expressed in the IMU frame: R(q)^T [0, 0, 1] (third row of R)
    w, x, y, z = q.w, q.x, q.y, q.z
    return (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y))


# averaged over the last 100 samples, the accelerometer points "up" where the orientation says
angles = []
for m in p.imu[-100:]:
    u = up_in_body(m.orientation)
    a = (m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z)
    na = math.sqrt(sum(v * v for v in a))
    angles.append(math.degrees(math.acos(max(-1, min(1, sum(ui * ai for ui, ai in zip(u, a)) / na)))))
check(sum(angles) / len(angles) < 5.0, f"orientation agrees with gravity: mean angle {sum(angles) / len(angles):.1f} deg")
check(abs(imu.angular_velocity_covariance[0] - 0.003 ** 2) < 1e-12, "gyro covariance = configured noise^2")

d = p.diag[-1]
names = [s.name for s in d.status]
check("sattva: control loop" in names and "sattva: ros bridge" in names, f"diagnostics statuses {names}")
loop = next(s for s in d.status if s.name == "sattva: control loop")
kv = {v.key: v.value for v in loop.values}
check(int(kv["cycles"]) > 0 and kv["clock"] == "simulated", f"diagnostics values {kv}")
# scheduler statistics: wait for a diagnostics message that carries them (after the first second)
p.spin_until(lambda: any(s.name == "sattva/sched/control" for s in p.diag[-1].status), 5.0)
st = {s.name: s for s in p.diag[-1].status}
check("sattva/sched" in st and "sattva/sched/control" in st, f"scheduler statuses in diagnostics ({sorted(st)})")
rt = {v.key: v.value for v in st["sattva/sched"].values}
check(rt.get("rt") in ("full", "degraded", "off"), f"rt status reported: {rt.get('rt')}")
ctl = {v.key: v.value for v in st["sattva/sched/control"].values}
check(any("p99" in k for k in ctl) and "deadline_misses" in ctl, f"control task stats keys {sorted(ctl)}")

# parameters: the command-line override is what the node (rcl) holds
gp = p.create_client(GetParameters, "/sattva/get_parameters")
r = p.call(gp, GetParameters.Request(names=["ros.imu_frame_id", "seed", "mujoco.joints.names"]), 10.0)
check(r.values[0].string_value == IMU_FRAME, f"param ros.imu_frame_id = '{r.values[0].string_value}'")
check(r.values[1].integer_value == SEED, f"param seed = {r.values[1].integer_value}")
check(list(r.values[2].string_array_value) == JOINTS, "param mujoco.joints.names from the YAML file")

# an operator command moves the simulated arm
start = list(p.js[-1].position)
target = list(start)
target[0] = start[0] + 0.6
p.mode.publish(String(data="external"))
end = time.time() + 2.5
while time.time() < end:
    p.cmd.publish(Float64MultiArray(data=target))
    p.spin_until(lambda: False, 0.05)
moved = p.js[-1].position[0] - start[0]
check(abs(moved - 0.6) < 0.08, f"yaw moved {moved:.3f} rad for a 0.6 rad command")

# with commands stopped, the command times out and the arm holds still
p.spin_until(lambda: False, 1.0)
held = p.js[-1].position[0]
p.spin_until(lambda: False, 1.0)
check(abs(p.js[-1].position[0] - held) < 0.02, "stale command -> hold")

# reset service: answered; the world returns to its start pose while sim time runs on (time
# never goes backwards: a reset is a teleport, not a time jump)
t_before = stamp_s(p.js[-1].header)
reset = p.create_client(Trigger, "/sattva/reset")
res = p.call(reset, Trigger.Request(), 10.0)
check(res.success, f"reset answered: {res.message}")
n = len(p.js)
p.spin_until(lambda: len(p.js) > n + 20, 5.0)
after = p.js[-1]
check(stamp_s(after.header) > t_before, f"sim time runs on after reset ({t_before:.3f} -> {stamp_s(after.header):.3f} s)")
check(abs(after.position[0] - p.js[0].position[0]) < 0.05,
      f"yaw back at its start pose after reset ({after.position[0]:.3f} vs {p.js[0].position[0]:.3f})")
print("RESULT OK", flush=True)
p.destroy_node()
rclpy.shutdown()
