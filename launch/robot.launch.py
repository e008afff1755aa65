"""sattva on a real robot (RealSense + the robot's ros2_control stack, started separately):
`ros2 launch sattva robot.launch.py [params_file:=...]`."""
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
            default_value=PathJoinSubstitution([FindPackageShare("sattva"), "config", "robot.yaml"]),
            description="sattva parameters (ROS 2 params format)",
        ),
        Node(
            package="sattva",
            executable="sattva",
            name="sattva",
            arguments=["run"],
            parameters=[params_file],
            output="screen",
            # the RT threads set their own SCHED_FIFO priorities and cores from the config
        ),
    ])
