"""Resolves the installed `sattva` package the way `ros2 run` / `ros2 launch` do (ament index),
prints JSON with the executable and share paths. usage: ament_layout.py"""
import json
import os

from ament_index_python.packages import get_package_prefix, get_package_share_directory, get_resource

prefix = get_package_prefix("sattva")
share = get_package_share_directory("sattva")
_, pkg_path = get_resource("packages", "sattva")
exe_dir = os.path.join(prefix, "lib", "sattva")
print(json.dumps({
    "prefix": prefix,
    "share": share,
    "executables": sorted(f for f in os.listdir(exe_dir) if os.access(os.path.join(exe_dir, f), os.X_OK)),
    "launch": sorted(os.listdir(os.path.join(share, "launch"))),
    "config": sorted(os.listdir(os.path.join(share, "config"))),
    "msgs_share": get_package_share_directory("sattva_msgs"),
}))
