"""rclpy peer for tests/perform_ros.rs: the `sattva/perform` action of a running `sattva run`
node resumed from a learned substrate, through rclpy's ActionClient.

Checks: unknown and empty text give a clear error result; a labelled attractor is performed
(goal accepted, phase feedback, a result naming the requested and the recognised attractor);
words grounded by an operator's label (`sattva/label`) are understood as a goal's text (a part
of the label, not the label itself: through the lexicon, not a label match);
a goal cancelled mid-way ends CANCELED and the control loop holds (/diagnostics mode).
Prints one line per check and `RESULT OK`; exits 1 on failure.
usage: perform_check.py <timeout s>
"""
import sys

import rclpy

import peer
from peer import check, fail
from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.action import ActionClient
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sattva_msgs.action import Perform
from sattva_msgs.msg import AttractorSet
from std_msgs.msg import String

TIMEOUT = float(sys.argv[1])
STATUS = {GoalStatus.STATUS_SUCCEEDED: "SUCCEEDED", GoalStatus.STATUS_ABORTED: "ABORTED",
          GoalStatus.STATUS_CANCELED: "CANCELED"}


class Peer(peer.Peer):
    def __init__(self):
        super().__init__("sattva_perform_peer")
        self.sets, self.diag = [], []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(AttractorSet, "/sattva/attractors", self.sets.append, latched)
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)
        self.client = ActionClient(self, Perform, "/sattva/perform")
        self.label = self.create_publisher(String, "/sattva/label", 10)
        self.mode_pub = self.create_publisher(String, "/sattva/mode", 10)

    def learning(self, key):
        for d in reversed(self.diag):
            for st in d.status:
                if st.name == "sattva: learning":
                    return int({kv.key: kv.value for kv in st.values}.get(key, "0"))
        return 0

    def mode(self):
        for d in reversed(self.diag):
            for st in d.status:
                if st.name == "sattva: control loop":
                    return {kv.key: kv.value for kv in st.values}.get("mode")
        return None

    def perform(self, goal, cancel_after_feedback=False):
        feedback = []
        fut = self.client.send_goal_async(
            goal, feedback_callback=lambda m: feedback.append(m.feedback.phase))
        if not self.spin_until(fut.done, 10.0):
            fail("goal not answered")
        gh = fut.result()
        check(gh.accepted, f"goal accepted (text '{goal.text}', id {goal.attractor_id} "
                           f"use_id {goal.use_id}, speed {goal.speed})")
        if cancel_after_feedback:
            check(self.spin_until(lambda: feedback, 20.0), f"feedback before cancel {feedback}")
            cf = gh.cancel_goal_async()
            if not self.spin_until(cf.done, 10.0):
                fail("cancel not answered")
            check(len(cf.result().goals_canceling) == 1, "cancel accepted")
        rf = gh.get_result_async()
        if not self.spin_until(rf.done, 60.0):
            fail("no result")
        r = rf.result()
        print(f"     status {STATUS.get(r.status, r.status)}: {r.result}", flush=True)
        return r.status, r.result, feedback


rclpy.init()
p = Peer()
check(p.client.wait_for_server(timeout_sec=TIMEOUT), "action server /sattva/perform available")
labelled = lambda: [a for a in (p.sets[-1].attractors if p.sets else []) if a.label]
check(p.spin_until(lambda: labelled(), TIMEOUT), "the resumed attractor set has labelled attractors")
by_label = {}
for a in labelled():
    by_label.setdefault(a.label, []).append(a.id)
label = sorted(by_label)[0]
print(f"     labels {sorted(by_label)}; performing '{label}' (attractors {by_label[label]})", flush=True)

# unknown word and empty text: a clear error result, the node keeps serving
for text, want in [("zzz_no_such_word", "no attractor is labelled `zzz_no_such_word`"),
                   ("", "empty text")]:
    status, r, fb = p.perform(Perform.Goal(text=text, speed=1.0))
    check(status == GoalStatus.STATUS_ABORTED and not r.success and want in r.message,
          f"text '{text}': aborted with '{r.message}'")

# a labelled attractor: feedback, then the result names the requested and recognised attractor
status, r, fb = p.perform(Perform.Goal(text=label, speed=1.0))
check(status == GoalStatus.STATUS_SUCCEEDED, "performance finished")
check(r.requested_id in by_label[label], f"requested attractor {r.requested_id} is labelled '{label}'")
check(any(0.0 < x < 1.0 for x in fb) and all(0.0 <= x <= 1.0 for x in fb),
      f"phase feedback in (0, 1): {len(fb)} messages")
check(fb == sorted(fb), "phase feedback does not go back")
check(r.recognised_id >= -1 and f"performed attractor {r.requested_id}" in r.message,
      f"result: recognised {r.recognised_id} (similarity {r.similarity:.3f}), success {r.success}")
check(not r.success or r.recognised_id == r.requested_id,
      "success only when recognised as the requested attractor")
check(p.spin_until(lambda: p.mode() == "hold", 5.0), "after the performance the loop holds")

# an operator names what the robot just did; a goal's text with those words (not the label
# itself) is understood through the grounded lexicon and performed
p.mode_pub.publish(String(data="explore"))  # the robot moves and learns again
check(p.spin_until(lambda: p.mode() == "explore", 5.0), "exploring again")
before = p.learning("labels")
p.label.publish(String(data="wiggle softly now"))
check(p.spin_until(lambda: p.learning("labels") > before or
                   (p.label.publish(String(data="wiggle softly now")) and False), 20.0),
      "the operator's label is grounded")
status, r, fb = p.perform(Perform.Goal(text="wiggle", speed=1.0))
check(status == GoalStatus.STATUS_SUCCEEDED and r.requested_id >= 0
      and f"performed attractor {r.requested_id}" in r.message,
      f"'wiggle' understood as attractor {r.requested_id} and performed: '{r.message}'")
check(p.spin_until(lambda: p.mode() == "hold", 5.0), "after the performance the loop holds")

# by id, slowly; cancelled mid-way: CANCELED, and the control loop holds
status, r, fb = p.perform(Perform.Goal(use_id=True, attractor_id=r.requested_id, speed=0.25),
                          cancel_after_feedback=True)
check(status == GoalStatus.STATUS_CANCELED and "holds" in r.message, f"cancelled: '{r.message}'")
check(p.spin_until(lambda: p.mode() == "hold", 5.0), "after cancel the loop holds")
# a bad speed is refused with a reason
status, r, fb = p.perform(Perform.Goal(use_id=True, attractor_id=by_label[label][0], speed=-1.0))
check(status == GoalStatus.STATUS_ABORTED and "speed" in r.message, f"bad speed: '{r.message}'")
print("RESULT OK", flush=True)
p.destroy_node()
rclpy.shutdown()
