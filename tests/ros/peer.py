"""Shared helpers of the rclpy test peers: one line per check, exit 1 on the first failure."""
import sys
import time

import rclpy
from rclpy.node import Node


def fail(msg):
    print(f"FAIL {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok   {msg}", flush=True)


class Peer(Node):
    """A node with bounded spinning and synchronous service calls."""

    def spin_until(self, cond, timeout):
        end = time.time() + timeout
        while time.time() < end:
            rclpy.spin_once(self, timeout_sec=0.05)
            if cond():
                return True
        return False

    def call(self, client, req, timeout):
        if not client.wait_for_service(timeout_sec=timeout):
            fail(f"service {client.srv_name} not available")
        fut = client.call_async(req)
        if not self.spin_until(fut.done, timeout):
            fail(f"service {client.srv_name} did not answer")
        return fut.result()
