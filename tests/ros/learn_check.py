"""rclpy peer for tests/ros_learn.rs: the learning side of a running `sattva run` node.

Checks attractor events, the (transient-local) attractor set, the marker array and the
snapshot / query services. Prints one line per check and `RESULT OK`; exits 1 on failure.
usage: learn_check.py <timeout s> <snapshot path>
"""
import os
import sys
import time

import rclpy

import peer
from peer import check, fail
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sattva_msgs.msg import AttractorEvent, AttractorSet
from sattva_msgs.srv import QueryAttractors
from diagnostic_msgs.msg import DiagnosticArray
from std_srvs.srv import Trigger
from visualization_msgs.msg import Marker, MarkerArray

TIMEOUT, SNAPSHOT = float(sys.argv[1]), sys.argv[2]


class Peer(peer.Peer):
    def __init__(self):
        super().__init__("sattva_learn_peer")
        self.events, self.sets, self.markers, self.diag = [], [], [], []
        self.create_subscription(DiagnosticArray, "/diagnostics", self.diag.append, 10)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.create_subscription(AttractorEvent, "/sattva/attractor_events", self.events.append, 100)
        self.create_subscription(AttractorSet, "/sattva/attractors", self.sets.append, latched)
        self.create_subscription(MarkerArray, "/sattva/attractor_markers", self.markers.append, latched)


rclpy.init()
p = Peer()
created = lambda: [e for e in p.events if e.kind == AttractorEvent.CREATED]
check(p.spin_until(lambda: len(created()) >= 3 and p.sets and len(p.sets[-1].attractors) >= 3, TIMEOUT),
      f"attractor events and set received ({len(p.events)} events, {len(created())} created, "
      f"{len(p.sets)} sets)")
kinds = {e.kind for e in p.events}
check(kinds <= {0, 1, 2, 3, 4}, f"event kinds {sorted(kinds)} are the declared constants")
t = [e.stamp.sec + e.stamp.nanosec * 1e-9 for e in p.events]
check(all(b >= a for a, b in zip(t, t[1:])), "event stamps do not go back")
check(max(t) < 120, f"event stamps are sim time ({max(t):.2f} s)")
for e in p.events:
    if e.kind in (AttractorEvent.CREATED, AttractorEvent.STRENGTHENED, AttractorEvent.RECOGNISED):
        if not (-1.0001 <= e.similarity <= 1.0001 and 0.0 <= e.strength <= 1.0001 and e.count >= 1):
            fail(f"event values out of range: {e}")
check(True, "event similarity/strength/count in range")
first_created = created()[0]
check(first_created.count == 1, "a created attractor has count 1")

s = p.sets[-1]
ids = [a.id for a in s.attractors]
check(len(ids) == len(set(ids)), f"set has unique ids ({len(ids)} attractors, step {s.step})")
check(s.header.frame_id == "base_link", f"set frame_id '{s.header.frame_id}'")
# every attractor created before the set's time is in it unless merged/pruned later
gone = {e.id for e in p.events if e.kind in (AttractorEvent.MERGED, AttractorEvent.PRUNED)}
st = s.header.stamp.sec + s.header.stamp.nanosec * 1e-9
made = {e.id for e in created() if e.stamp.sec + e.stamp.nanosec * 1e-9 <= st}
missing = made - set(ids) - gone
check(not missing, f"created attractors are in the set (missing {sorted(missing)})")
check(all(a.count >= 1 and a.radius >= 0.0 for a in s.attractors), "attractor counts and radii valid")

check(p.spin_until(lambda: p.markers, 5.0), "marker array received")
m = p.markers[-1]
check(m.markers[0].action == Marker.DELETEALL, "markers start with DELETEALL")
spheres = [x for x in m.markers if x.type == Marker.SPHERE and x.action == Marker.ADD]
texts = [x for x in m.markers if x.type == Marker.TEXT_VIEW_FACING]
check(len(spheres) >= 3 and len(spheres) == len(texts), f"{len(spheres)} spheres with labels")
check(all(x.header.frame_id == "base_link" and x.scale.x > 0 and x.color.a > 0 for x in spheres),
      "spheres have frame, size and colour")

def learning_status():
    for d in reversed(p.diag):
        for st in d.status:
            if st.name == "sattva: learning":
                return {v.key: v.value for v in st.values}
    return None


check(p.spin_until(lambda: int((learning_status() or {}).get("learned", "0")) >= 3, 10.0),
      f"learning counters on /diagnostics: {learning_status()}")
ls = learning_status()
check(int(ls["calibration"]) == 4 and int(ls["learned"]) >= 3 and int(ls["attractors"]) >= 1,
      "4 calibration experiences, then learning")

q = p.create_client(QueryAttractors, "/sattva/query_attractors")
r = p.call(q, QueryAttractors.Request(pattern=[], k=3), 10.0)
check(r.success and 1 <= len(r.matches) <= 3 and len(r.similarity) == len(r.matches),
      f"query (last experience, k=3): {len(r.matches)} matches, {r.message!r}")
check(all(a >= b for a, b in zip(r.similarity, r.similarity[1:])), f"similarities descending {list(r.similarity)}")
check(all(-1.0001 <= x <= 1.0001 for x in r.similarity), "similarities are cosines")
# querying with a match's own neighbourhood: a pattern of the wrong size is refused, clearly
r2 = p.call(q, QueryAttractors.Request(pattern=[1.0, 2.0, 3.0], k=3), 10.0)
check(not r2.success and "dimension" in r2.message, f"wrong-size pattern refused: {r2.message!r}")
r3 = p.call(q, QueryAttractors.Request(pattern=[float("nan")] * 256, k=3), 10.0)
check(not r3.success, f"NaN pattern refused: {r3.message!r}")

snap = p.create_client(Trigger, "/sattva/snapshot")
r = p.call(snap, Trigger.Request(), 20.0)
check(r.success and SNAPSHOT in r.message, f"snapshot answered: {r.message!r}")
check(os.path.getsize(SNAPSHOT) > 1000, f"snapshot file written ({os.path.getsize(SNAPSHOT)} bytes)")
print("RESULT OK", flush=True)
p.destroy_node()
rclpy.shutdown()
