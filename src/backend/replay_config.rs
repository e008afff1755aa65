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

    /// Names vary between robots and recorders (a bag the agent records (`record.enabled`) has
    /// `/sattva/imu`, a realsense-ros one `/camera/imu`): an input left at its default topic
    /// that is not in the bag takes the bag's only topic of that input's message type (a topic
    /// set in the config is kept, and configuring reports it missing), when there is
    /// exactly one and no other input maps it. Images are left alone (colour and depth share a
    /// type), as are inputs configured empty (not in the bag) and the ground truth (a pose topic
    /// is not necessarily one). Returns one line per substitution, for the log.
    pub fn adopt_bag_topics(&mut self, bag: &[crate::record::reader::TopicInfo]) -> Vec<String> {
        use crate::record::msgs::{self, RosMessage};
        let mut notes = Vec::new();
        let defaults = ReplayConfig::default();
        let kinds: [(&str, &str); 6] = [
            ("imu_topic", msgs::Imu::TYPE_NAME),
            ("joint_states_topic", msgs::JointState::TYPE_NAME),
            ("tf_topic", msgs::TfMessage::TYPE_NAME),
            ("camera_info_topic", msgs::CameraInfo::TYPE_NAME),
            ("command_topic", msgs::Float64MultiArray::TYPE_NAME),
            ("contacts_topic", msgs::Float64MultiArray::TYPE_NAME),
        ];
        for (key, type_name) in kinds {
            let mapped: Vec<String> = self.topics().iter().map(|(_, t)| t.to_string()).collect();
            let current = self
                .topics()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| t.to_string());
            let Some(current) = current.filter(|t| !t.is_empty()) else {
                continue;
            };
            // a name the user chose is a promise (not in the bag: an error listing the bag's
            // topics); only the defaults are guesses
            let default = defaults
                .topics()
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| t.to_string());
            if bag.iter().any(|t| t.name == current) || default.as_deref() != Some(&current) {
                continue;
            }
            let mut of_type = bag.iter().filter(|t| t.type_name == type_name);
            let (Some(only), None) = (of_type.next(), of_type.next()) else {
                continue;
            };
            if mapped.contains(&only.name) {
                continue;
            }
            notes.push(format!(
                "replay.{key}: `{current}` is not in the bag; using `{}`, its only {type_name} topic",
                only.name
            ));
            let slot = match key {
                "imu_topic" => &mut self.imu_topic,
                "joint_states_topic" => &mut self.joint_states_topic,
                "tf_topic" => &mut self.tf_topic,
                "camera_info_topic" => &mut self.camera_info_topic,
                "command_topic" => &mut self.command_topic,
                _ => &mut self.contacts_topic,
            };
            *slot = only.name.clone();
        }
        notes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::reader::TopicInfo;

    fn topic(name: &str, type_name: &str) -> TopicInfo {
        TopicInfo {
            name: name.into(),
            type_name: type_name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn absent_topics_take_the_bags_only_topic_of_their_type() {
        // a bag as the agent records it (`record.enabled`)
        let bag = [
            topic("/sattva/imu", "sensor_msgs/msg/Imu"),
            topic("/sattva/joint_states", "sensor_msgs/msg/JointState"),
            topic("/sattva/command", "std_msgs/msg/Float64MultiArray"),
            topic("/sattva/contacts", "std_msgs/msg/Float64MultiArray"),
        ];
        let mut c = ReplayConfig::default();
        let notes = c.adopt_bag_topics(&bag);
        assert_eq!(c.imu_topic, "/sattva/imu");
        assert_eq!(c.joint_states_topic, "/sattva/joint_states");
        // present under their configured names: untouched
        assert_eq!(c.command_topic, "/sattva/command");
        assert_eq!(c.contacts_topic, "/sattva/contacts");
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes[0].contains("replay.imu_topic: `/imu/data`"),
            "{notes:?}"
        );
    }

    #[test]
    fn ambiguous_empty_or_present_topics_stay_as_configured() {
        let bag = [
            topic("/a/imu", "sensor_msgs/msg/Imu"),
            topic("/b/imu", "sensor_msgs/msg/Imu"),
            topic("/joint_states", "sensor_msgs/msg/JointState"),
            topic("/robot/joint_states", "sensor_msgs/msg/JointState"),
            topic("/tf_static", "tf2_msgs/msg/TFMessage"),
            topic("/camera/color/image_raw", "sensor_msgs/msg/Image"),
        ];
        let mut c = ReplayConfig {
            tf_topic: String::new(),
            image_topic: "/cam/image".into(),
            ..Default::default()
        };
        let before = c.clone();
        assert!(c.adopt_bag_topics(&bag).is_empty());
        // two IMUs: ambiguous; joint states present by name; tf configured empty (not wanted);
        // images never guessed (colour and depth share a type)
        assert_eq!(c, before);
    }

    #[test]
    fn a_topic_another_input_maps_is_not_taken_twice() {
        // the only Float64MultiArray topic is already the contacts input
        let bag = [topic("/sattva/contacts", "std_msgs/msg/Float64MultiArray")];
        let mut c = ReplayConfig::default();
        let before = c.clone();
        assert!(c.adopt_bag_topics(&bag).is_empty());
        assert_eq!(c, before);
    }

    #[test]
    fn a_topic_set_in_the_config_is_kept_even_when_absent() {
        // the user named the IMU topic: a promise, reported missing by `configure`, not guessed
        let bag = [
            topic("/sattva/imu", "sensor_msgs/msg/Imu"),
            topic("/sattva/joint_states", "sensor_msgs/msg/JointState"),
        ];
        let mut c = ReplayConfig {
            imu_topic: "/robot/imu".into(),
            ..Default::default()
        };
        let notes = c.adopt_bag_topics(&bag);
        assert_eq!(c.imu_topic, "/robot/imu");
        // the joint states were left at the default: adopted
        assert_eq!(c.joint_states_topic, "/sattva/joint_states", "{notes:?}");
    }
}
