"""sattva in MuJoCo simulation: `ros2 launch sattva sim.launch.py [params_file:=...]`."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    params_file = LaunchConfiguration("params_file")
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("sattva"), "config", "sim.yaml"]),
            description="sattva parameters (ROS 2 params format)",
        ),
        Node(
            package="sattva",
            executable="sattva",
            name="sattva",
            arguments=["run"],
            parameters=[params_file, {"use_sim_time": True}],
            output="screen",
        ),
    ])
