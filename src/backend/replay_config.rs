//! The `replay:` section: which topics of a rosbag2 bag feed which inputs of the replay
//! backend, and how fast it plays.

use serde::{Deserialize, Serialize};

use crate::validate::{Checker, Validate};

/// Which pipeline input a topic feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// `sensor_msgs/msg/Imu` -> `SensorFrame::imu`.
    Imu,
    /// `sensor_msgs/msg/JointState` -> `SensorFrame::joints`.
    JointStates,
    /// `tf2_msgs/msg/TFMessage`.
    Tf,
    /// `sensor_msgs/msg/Image` (colour).
    Image,
    /// `sensor_msgs/msg/Image` (depth).
    Depth,
    /// `sensor_msgs/msg/CameraInfo`.
    CameraInfo,
    /// `sensor_msgs/msg/PointCloud2`.
    Points,
    /// `geometry_msgs/msg/TransformStamped` or `tf2_msgs/msg/TFMessage` holding ground truth.
    GroundTruth,
}

/// The `replay:` config section: which bag, which topic is which input (names vary between
/// robots), and how fast. An empty topic name means "this input is not in the bag".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayConfig {
    /// Bag directory or storage file (relative to the config file); empty = given on the command line.
    pub bag: String,
    /// IMU topic (`sensor_msgs/msg/Imu`).
    pub imu_topic: String,
    /// Joint state topic (`sensor_msgs/msg/JointState`).
    pub joint_states_topic: String,
    /// Transform topic (`tf2_msgs/msg/TFMessage`).
    pub tf_topic: String,
    /// Colour image topic (`sensor_msgs/msg/Image`).
    pub image_topic: String,
    /// Depth image topic (`sensor_msgs/msg/Image`).
    pub depth_topic: String,
    /// Camera calibration topic (`sensor_msgs/msg/CameraInfo`).
    pub camera_info_topic: String,
    /// Point cloud topic (`sensor_msgs/msg/PointCloud2`).
    pub points_topic: String,
    /// Ground-truth pose topic (motion capture), if the bag has one.
    pub ground_truth_topic: String,
    /// Commands of the recorded agent (`std_msgs/msg/Float64MultiArray`, the mode in
    /// `layout.dim[0].label`: what `record.command_topic` writes); with `action.source: auto`
    /// the replayed agent performs them.
    pub command_topic: String,
    /// Contact/touch channels (`std_msgs/msg/Float64MultiArray`, one `layout.dim` per channel
    /// labelled with its name: what `record.contacts_topic` writes).
    pub contacts_topic: String,
    /// Replay speed: 0 = as fast as possible, k > 0 = k x real time.
    pub rate: f64,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            bag: String::new(),
            imu_topic: "/imu/data".into(),
            joint_states_topic: "/joint_states".into(),
            tf_topic: "/tf".into(),
            image_topic: "/camera/color/image_raw".into(),
            depth_topic: "/camera/depth/image_rect_raw".into(),
            camera_info_topic: "/camera/color/camera_info".into(),
            points_topic: String::new(),
            ground_truth_topic: String::new(),
            command_topic: "/sattva/command".into(),
            contacts_topic: "/sattva/contacts".into(),
            rate: 0.0,
        }
    }
}

impl ReplayConfig {
    /// The input a topic feeds, if it is mapped.
    pub fn input_for(&self, topic: &str) -> Option<Input> {
        if topic.is_empty() {
            return None;
        }
        [
            (&self.imu_topic, Input::Imu),
            (&self.joint_states_topic, Input::JointStates),
            (&self.tf_topic, Input::Tf),
            (&self.image_topic, Input::Image),
            (&self.depth_topic, Input::Depth),
            (&self.camera_info_topic, Input::CameraInfo),
            (&self.points_topic, Input::Points),
            (&self.ground_truth_topic, Input::GroundTruth),
        ]
        .into_iter()
        .find(|(t, _)| t.as_str() == topic)
        .map(|(_, i)| i)
    }

    fn topics(&self) -> [(&'static str, &String); 10] {
        [
            ("imu_topic", &self.imu_topic),
            ("joint_states_topic", &self.joint_states_topic),
            ("tf_topic", &self.tf_topic),
            ("image_topic", &self.image_topic),
            ("depth_topic", &self.depth_topic),
            ("camera_info_topic", &self.camera_info_topic),
            ("points_topic", &self.points_topic),
            ("ground_truth_topic", &self.ground_truth_topic),
            ("command_topic", &self.command_topic),
            ("contacts_topic", &self.contacts_topic),
        ]
    }
}

impl Validate for ReplayConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("rate", self.rate, 0.0, 1.0e6);
        let topics = self.topics();
        for (i, (key, t)) in topics.iter().enumerate() {
            if t.is_empty() {
                continue;
            }
            c.require(
                t.starts_with('/')
                    || t.starts_with('~')
                    || t.chars().next().is_some_and(char::is_alphabetic),
                key,
                format!("`{t}` is not a ROS 2 topic name"),
            );
            if let Some((other, _)) = topics[..i].iter().find(|(_, o)| o == t) {
                c.fail(
                    key,
                    format!("`{t}` is already mapped by `{other}`: one topic feeds one input"),
                );
            }
        }
    }
}
