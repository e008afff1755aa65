"""rclpy peer for tests/run_backends.rs: which topics the `sattva` node publishes, with which
types, and how many messages of each arrive in an observation window.

usage: topics_check.py <discovery timeout s> <observe s>
Prints `TOPIC <name> <type> <count>` per published topic, then `RESULT OK`.
"""
import importlib
import sys
import time

import rclpy
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

TIMEOUT, OBSERVE = float(sys.argv[1]), float(sys.argv[2])
SKIP = {"/rosout", "/parameter_events"}


def msg_class(type_name):
    pkg, kind, name = type_name.split("/")
    module = importlib.import_module(f"{pkg}.{kind}")
    if kind == "action":
        # an action's hidden topics (`<action>/_action/feedback`, `.../status`): the message
        # classes live on the action class, e.g. Perform_FeedbackMessage -> Perform.Impl.FeedbackMessage
        action, _, part = name.partition("_")
        return getattr(getattr(module, action).Impl, part)
    return getattr(module, name)


rclpy.init()
n = Node("sattva_topics_peer")
end = time.time() + TIMEOUT
pubs = []
while time.time() < end:
    rclpy.spin_once(n, timeout_sec=0.1)
    try:
        pubs = [(t, ty) for t, ty in n.get_publisher_names_and_types_by_node("sattva", "/") if t not in SKIP]
    except Exception:  # node not discovered yet
        pubs = []
    # the node creates all its publishers before it reports ready: wait for a stable, full list
    if len(pubs) >= 6:
        time.sleep(0.5)
        rclpy.spin_once(n, timeout_sec=0.1)
        try:
            pubs = [(t, ty) for t, ty in n.get_publisher_names_and_types_by_node("sattva", "/")
                    if t not in SKIP]
        except Exception:
            print("FAIL node `sattva` vanished", flush=True)
            sys.exit(1)
        break
if not pubs:
    print("FAIL node `sattva` not discovered", flush=True)
    sys.exit(1)
counts = {}
subs = []
for topic, types in pubs:
    counts[topic] = 0

    def cb(_m, topic=topic):
        counts[topic] += 1

    # best effort + volatile matches every publisher (reliable, transient local too)
    subs.append(n.create_subscription(msg_class(types[0]), topic, cb, qos_profile_sensor_data))
end = time.time() + OBSERVE
while time.time() < end:
    rclpy.spin_once(n, timeout_sec=0.05)
for topic, types in sorted(pubs):
    print(f"TOPIC {topic} {types[0]} {counts[topic]}", flush=True)
print("RESULT OK", flush=True)
n.destroy_node()
rclpy.shutdown()
