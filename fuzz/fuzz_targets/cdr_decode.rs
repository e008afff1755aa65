//! CDR decoder: any bytes as any known type; accepted inputs must round-trip byte-exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sattva::record::msgs::AnyMessage;

const TYPES: &[&str] = &[
    "sensor_msgs/msg/Imu",
    "sensor_msgs/msg/JointState",
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/CameraInfo",
    "sensor_msgs/msg/PointCloud2",
    "tf2_msgs/msg/TFMessage",
    "geometry_msgs/msg/TransformStamped",
    "geometry_msgs/msg/Twist",
    "geometry_msgs/msg/Pose",
    "std_msgs/msg/String",
    "std_msgs/msg/Float64MultiArray",
    "rcl_interfaces/msg/Log",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, payload)) = data.split_first() else {
        return;
    };
    let ty = TYPES[sel as usize % TYPES.len()];
    if let Ok(Some(m)) = AnyMessage::decode(ty, payload) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        m.encode_into(&mut a);
        let again = AnyMessage::decode(ty, &a).unwrap().unwrap();
        again.encode_into(&mut b);
        assert_eq!(a, b);
    }
});
