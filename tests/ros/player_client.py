"""rclpy peer of `sattva replay --publish`'s player controls (sattva_msgs/srv, modelled on
rosbag2_interfaces).

usage: player_client.py write OUT_DIR      a bag (rosbags' writer, MCAP): /counter std_msgs/Int32
                                           data = i at T0 + i * 100 ms, i = 0..199
       player_client.py controls SECONDS   drives the player through every control, prints JSON
       player_client.py listen SECONDS     prints the /counter values received, as JSON
       player_client.py agent SECONDS      drives an agent replay (one message = one control
                                           cycle of 2 ms) through the controls, prints JSON
"""
import json
import sys
import time
from pathlib import Path

T0_S = 1_700_000_000
N = 200

if sys.argv[1] == "write":
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import StoragePlugin
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY)
    Int32 = ts.types["std_msgs/msg/Int32"]
    with Writer(Path(sys.argv[2]), version=9, storage_plugin=StoragePlugin.MCAP) as w:
        c = w.add_connection("/counter", Int32.__msgtype__, typestore=ts)
        for i in range(N):
            w.write(c, T0_S * 10**9 + i * 100_000_000, ts.serialize_cdr(Int32(data=i), Int32.__msgtype__))
    sys.exit(0)

import rclpy  # noqa: E402
from builtin_interfaces.msg import Time  # noqa: E402
from rclpy.qos import QoSProfile  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from std_msgs.msg import Int32  # noqa: E402

rclpy.init()
n = rclpy.create_node("player_client")
got = []
clocks = []
n.create_subscription(Int32, "/counter", lambda m: got.append(m.data), QoSProfile(depth=1000))
n.create_subscription(Clock, "/clock", lambda m: clocks.append(m.clock.sec * 10**9 + m.clock.nanosec), 100)
deadline = time.time() + float(sys.argv[2])


def spin(s):
    end = time.time() + s
    while time.time() < end:
        rclpy.spin_once(n, timeout_sec=0.01)


if sys.argv[1] == "listen":
    while time.time() < deadline and (not got or got[-1] < N - 1):
        rclpy.spin_once(n, timeout_sec=0.05)
    spin(0.5)
    print(json.dumps(got))
    sys.exit(0)

from sattva_msgs.srv import (  # noqa: E402
    Burst, GetRate, IsPaused, Pause, PlayNext, Resume, Seek, SetRate, TogglePaused)

P = "/sattva_bag_player/"


def client(t, name):
    c = n.create_client(t, P + name)
    assert c.wait_for_service(timeout_sec=30), f"service {P + name} not found"
    return c


def call(c, req):
    f = c.call_async(req)
    rclpy.spin_until_future_complete(n, f, timeout_sec=10)
    assert f.done(), "no response"
    return f.result()


if sys.argv[1] == "agent":
    is_paused = client(IsPaused, "is_paused")
    resume, pause = client(Resume, "resume"), client(Pause, "pause")
    set_rate, get_rate = client(SetRate, "set_rate"), client(GetRate, "get_rate")
    seek, play_next, burst = client(Seek, "seek"), client(PlayNext, "play_next"), client(Burst, "burst")

    def clock_after(s):
        clocks.clear()
        spin(s)
        return sorted(set(clocks))

    out = {}
    out["paused_at_start"] = call(is_paused, IsPaused.Request()).paused
    c0 = clock_after(1.0)
    out["clock_at_start"] = c0
    t0 = c0[-1]
    out["play_next"] = call(play_next, PlayNext.Request()).success
    out["after_first"] = clock_after(0.3)
    out["burst"] = call(burst, Burst.Request(num_messages=10)).actually_burst
    out["after_burst"] = clock_after(0.3)
    call(play_next, PlayNext.Request())
    out["after_next"] = clock_after(0.3)
    out["while_paused"] = clock_after(1.0)
    out["seek"] = call(seek, Seek.Request(time=Time(sec=(t0 + 1_500_000_000) // 10**9,
                                                    nanosec=(t0 + 1_500_000_000) % 10**9))).success
    # the fast-forward runs every cycle on the way (unpaced): wait for it, then the clock stands
    end = time.time() + 20
    while time.time() < end and t0 + 1_500_000_000 not in clocks:
        spin(0.05)
    out["after_seek"] = clock_after(0.5)
    out["seek_back"] = call(seek, Seek.Request(time=Time(sec=t0 // 10**9, nanosec=t0 % 10**9))).success
    out["paused_after_seek"] = call(is_paused, IsPaused.Request()).paused
    out["set_rate"] = call(set_rate, SetRate.Request(rate=2.0)).success
    out["get_rate"] = call(get_rate, GetRate.Request()).rate
    call(resume, Resume.Request())
    spin(0.25)
    call(pause, Pause.Request())
    spin(0.2)
    out["played"] = clock_after(0.5)
    out["t0"] = t0
    out["play_next_paused_ok"] = call(play_next, PlayNext.Request()).success
    call(set_rate, SetRate.Request(rate=100.0))
    call(resume, Resume.Request())
    print(json.dumps(out))
    sys.exit(0)

is_paused = client(IsPaused, "is_paused")
pause, resume, toggle = client(Pause, "pause"), client(Resume, "resume"), client(TogglePaused, "toggle_paused")
set_rate, get_rate = client(SetRate, "set_rate"), client(GetRate, "get_rate")
seek, play_next, burst = client(Seek, "seek"), client(PlayNext, "play_next"), client(Burst, "burst")
# the player's /counter publisher, matched before anything is played
while n.count_publishers("/counter") == 0 and time.time() < deadline:
    spin(0.05)
spin(1.0)
out = {}
out["paused_at_start"] = call(is_paused, IsPaused.Request()).paused
out["while_paused"] = list(got)
out["clock_while_paused"] = sorted(set(clocks))
r = call(play_next, PlayNext.Request())
spin(0.5)
out["play_next"] = [r.success, list(got)]
got.clear()
r = call(burst, Burst.Request(num_messages=5))
spin(0.5)
out["burst"] = [r.actually_burst, list(got)]
got.clear()
r = call(seek, Seek.Request(time=Time(sec=T0_S + 10, nanosec=0)))
r2 = call(play_next, PlayNext.Request())
spin(0.5)
out["seek"] = [r.success, r2.success, list(got)]
got.clear()
out["seek_past_end"] = call(seek, Seek.Request(time=Time(sec=T0_S + 100, nanosec=0))).success
out["set_rate"] = call(set_rate, SetRate.Request(rate=5.0)).success
out["bad_rate"] = call(set_rate, SetRate.Request(rate=-1.0)).success
out["get_rate"] = call(get_rate, GetRate.Request()).rate
out["play_next_while_playing"] = None
call(resume, Resume.Request())
out["paused_after_resume"] = call(is_paused, IsPaused.Request()).paused
spin(1.0)
out["play_next_while_playing"] = call(play_next, PlayNext.Request()).success
call(pause, Pause.Request())
spin(0.3)
at_pause = list(got)
spin(1.0)
out["pause"] = [at_pause, list(got)]
got.clear()
call(set_rate, SetRate.Request(rate=50.0))
call(toggle, TogglePaused.Request())
while time.time() < deadline and (not got or got[-1] < N - 1):
    spin(0.05)
spin(0.3)
out["to_the_end"] = list(got)
out["clock"] = [min(clocks), max(clocks)] if clocks else []
print(json.dumps(out))
