"""rclpy peer for tests/ros_language.rs: operator labels on `sattva/label` and the
`sattva/understand` service of a running `sattva run` node.

mode `refuse`: the agent learns nothing (calibration never ends): every label is refused and
  counted on /diagnostics, and understand answers with an error, never a crash.
mode `ground`: labels name the most recent experience; understand returns the labelled
  attractor(s) with confidences; empty text and unknown words are clear errors; a snapshot
  writes the lexicon beside it.
Prints one line per check and `RESULT OK`; exits 1 on failure.
usage: language_check.py <mode> <timeout s> [<snapshot path>]
"""
import os
import sys

import rclpy

import peer
from peer import check
from diagnostic_msgs.msg import DiagnosticArray
from sattva_msgs.srv import Understand
from std_msgs.msg import String
from std_srvs.srv import Trigger

MODE, TIMEOUT = sys.argv[1], float(sys.argv[2])
SNAPSHOT = sys.argv[3] if len(sys.argv) > 3 else ""


class Peer(peer.Peer):
    def __init__(self):
        super().__init__("sattva_language_peer")
        self.diag = []
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)
        self.label = self.create_publisher(String, "/sattva/label", 10)


def learning_status(p):
    for d in reversed(p.diag):
        for st in d.status:
            if st.name == "sattva: learning":
                return {v.key: v.value for v in st.values}
    return None


def counter(p, key):
    return int((learning_status(p) or {}).get(key, "0"))


rclpy.init()
p = Peer()
srv = p.create_client(Understand, "/sattva/understand")
check(srv.wait_for_service(timeout_sec=TIMEOUT), "sattva/understand is offered")
check(p.spin_until(lambda: p.label.get_subscription_count() >= 1, TIMEOUT), "sattva/label has a subscriber")

if MODE == "refuse":
    check(p.spin_until(lambda: learning_status(p) is not None, TIMEOUT), "learning status on /diagnostics")
    for i in range(5):
        p.label.publish(String(data="wave hello"))
        p.spin_until(lambda: False, 0.1)
    check(p.spin_until(lambda: counter(p, "labels_refused") >= 5, TIMEOUT),
          f"5 labels with no recent experience refused and counted: {learning_status(p)}")
    check(counter(p, "labels") == 0, "none grounded")
    r = p.call(srv, Understand.Request(text="wave hello"), 10.0)
    check(not r.success and "nothing has been taught" in r.error and not r.ids,
          f"understand before any label: error {r.error!r}")
    r = p.call(srv, Understand.Request(text=""), 10.0)
    check(not r.success and "empty" in r.error, f"empty text: error {r.error!r}")
else:
    check(p.spin_until(lambda: counter(p, "learned") >= 3, TIMEOUT),
          f"the agent is learning: {learning_status(p)}")
    for i in range(3):
        p.label.publish(String(data="Wave hello!"))
        p.spin_until(lambda: False, 0.6)
    check(p.spin_until(lambda: counter(p, "labels") >= 3, TIMEOUT),
          f"labels grounded in recent experiences: {learning_status(p)}")
    check(counter(p, "labels_refused") == 0, "none refused")
    r = p.call(srv, Understand.Request(text="wave hello"), 10.0)
    check(r.success and r.error == "" and 1 <= len(r.ids) <= 8, f"understood: ids {list(r.ids)} labels {list(r.labels)}")
    check(len(r.labels) == len(r.ids) == len(r.confidences), "ids, labels and confidences align")
    check("wave hello" in r.labels[0], f"the top meaning carries the operator's label: {r.labels[0]!r}")
    c = list(r.confidences)
    check(all(0.0 <= x <= 1.0 for x in c) and all(a >= b for a, b in zip(c, c[1:])) and sum(c) <= 1.0001,
          f"confidences in [0, 1], descending, sum <= 1: {c}")
    r = p.call(srv, Understand.Request(text="   "), 10.0)
    check(not r.success and "empty" in r.error and not r.ids, f"empty text: error {r.error!r}")
    r = p.call(srv, Understand.Request(text="xyzzy plugh"), 10.0)
    check(not r.success and "unknown words" in r.error and "xyzzy" in r.error, f"unknown words: error {r.error!r}")
    r = p.call(srv, Understand.Request(text="w" * 5000), 10.0)
    check(not r.success and "longer" in r.error, f"over-long text: error {r.error!r}")
    snap = p.create_client(Trigger, "/sattva/snapshot")
    r = p.call(snap, Trigger.Request(), 20.0)
    check(r.success, f"snapshot: {r.message!r}")
    lex = SNAPSHOT + ".lexicon"
    check(p.spin_until(lambda: os.path.exists(lex), 10.0), f"lexicon written beside the snapshot: {lex}")
print("RESULT OK", flush=True)
p.destroy_node()
rclpy.shutdown()
