"""A misbehaving peer on the sattva peer protocol: once it has seen a real proposal (to learn
the encoder's dimension), it publishes three malformed proposals claiming to be peer 7 (unknown
protocol version, wrong dimension, NaN center), then watches /diagnostics until a sattva peer
reports all three rejected and peer 7 quarantined. Prints that peer's diagnostic values as one
JSON line, then RESULT OK.
usage: peers_malformed.py PREFIX TIMEOUT_S
"""
import json
import math
import sys
import time

import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from diagnostic_msgs.msg import DiagnosticArray
from sattva_msgs.msg import Proposal

from peer import Peer, check, fail


def main():
    prefix, timeout = sys.argv[1], float(sys.argv[2])
    rclpy.init()
    node = Peer("peers_malformed")
    qos = QoSProfile(depth=1024, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Proposal, f"{prefix}/proposals", qos)
    seen = {}
    node.create_subscription(Proposal, f"{prefix}/proposals",
                             lambda m: seen.setdefault("dim", len(m.center)) if m.proposer != 7 else None, qos)
    reports = {}

    def diag(msg):
        for s in msg.status:
            if s.name.startswith("sattva peer"):
                reports[s.name] = {kv.key: kv.value for kv in s.values}
    node.create_subscription(DiagnosticArray, "/diagnostics", diag, 10)
    check(node.spin_until(lambda: "dim" in seen, timeout), "a real proposal arrived")
    dim = seen["dim"]
    base = dict(proposer=7, label="lift", evidence=5, lineage="x", stamp=time.time())
    for i, (version, center) in enumerate([
        (99, [1.0] + [0.0] * (dim - 1)),          # unknown protocol version
        (1, [1.0, 0.0, 0.0]),                      # wrong dimension
        (1, [math.nan] + [0.0] * (dim - 1)),      # NaN center
    ]):
        pub.publish(Proposal(version=version, proposal_id=f"7:{i + 1}", center=center, **base))
    print(f"ok   published 3 malformed proposals (dim {dim})", flush=True)

    def done():
        for values in reports.values():
            if all(k in values for k in ("malformed.unknown_version", "malformed.wrong_dimension",
                                         "malformed.not_finite", "quarantined.7")):
                return True
        return False
    if not node.spin_until(done, timeout):
        fail(f"no peer reported the malformed proposals on /diagnostics: {json.dumps(reports)}")
    name, values = next((n, v) for n, v in reports.items() if "quarantined.7" in v)
    print(json.dumps({"name": name, "values": values}), flush=True)
    print("RESULT OK", flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == "__main__":
    main()
