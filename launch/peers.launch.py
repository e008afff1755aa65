"""N sattva peers validating each other's primitives over ROS 2 (one domain):
`ros2 launch sattva peers.launch.py [n:=5] [params_file:=...]`.

One `sattva peers -n N` launcher starts N `sattva peer --id K` processes (each its own agent,
training scenarios and ROS 2 node `sattva_peer_K`) with the params file, waits for them and
prints each peer's literacy, shared library and quarantined peers (files in out/peers).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    params_file = LaunchConfiguration("params_file")
    n = LaunchConfiguration("n")
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("sattva"), "config", "sim.yaml"]),
            description="sattva parameters (ROS 2 params format), passed to every peer",
        ),
        DeclareLaunchArgument("n", default_value="5", description="number of peers"),
        Node(
            package="sattva",
            executable="sattva",
            name="sattva_peers",
            arguments=["peers", "-n", n],
            parameters=[params_file],
            output="screen",
        ),
    ])
