"""Waits for sattva's /diagnostics to report a backend fault: the "sattva: control loop" status
at level ERROR (2) with faults_fatal >= 1 and physics_unstable >= 1. Prints RESULT OK {json}.
usage: diag_fault_check.py TIMEOUT_S
"""
import json
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

timeout = float(sys.argv[1])
rclpy.init()
node = Node("diag_fault_check")
found = {}


def on_diag(m):
    for st in m.status:
        if st.name == "sattva: control loop":
            v = {kv.key: kv.value for kv in st.values}
            if int(v.get("faults_fatal", "0")) >= 1:
                found.update(v)
                found["level"] = int.from_bytes(st.level, "little") if isinstance(st.level, bytes) else int(st.level)
                found["message"] = st.message


node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
end = time.monotonic() + timeout
while not found and time.monotonic() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
ok = bool(found) and found["level"] == 2 and int(found.get("physics_unstable", "0")) >= 1
print(("RESULT OK " if ok else "RESULT FAIL ") + json.dumps(found), flush=True)
node.destroy_node()
rclpy.shutdown()
sys.exit(0 if ok else 1)
