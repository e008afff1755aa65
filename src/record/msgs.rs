//! Typed ROS 2 messages the pipeline reads and writes, with their CDR codec and `.msg` text.
//!
//! Each message implements [`RosMessage`]: the ROS 2 type name (`sensor_msgs/msg/Imu`), CDR
//! encode/decode, and [`RosMessage::schema`], the `ros2msg` schema text rosbag2 and MCAP expect:
//! the message's own definition followed by every dependency, each introduced by a line of 80
//! `=` and `MSG: pkg/Name`. Definitions here are the upstream ones (ROS 2 Jazzy) without comments.

use serde::Serialize;

use super::cdr::{CdrError, CdrReader, CdrWriter, Endian};

/// A value with a CDR layout (messages and the structs nested in them).
pub trait Cdr: Sized {
    /// Appends this value's fields.
    fn encode(&self, w: &mut CdrWriter<'_>);
    /// Reads this value's fields.
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError>;
}

/// A ROS 2 message type.
pub trait RosMessage: Cdr {
    /// Full ROS 2 type name, e.g. `sensor_msgs/msg/Imu`.
    const TYPE_NAME: &'static str;

    /// The `ros2msg` schema text (definition plus dependencies).
    fn schema() -> String {
        schema_text(Self::TYPE_NAME).unwrap_or_default()
    }
}

/// Decodes a whole CDR payload (header included) as `M`.
pub fn decode<M: RosMessage>(data: &[u8]) -> Result<M, CdrError> {
    let mut r = CdrReader::new(data)?;
    M::decode(&mut r)
}

/// Encodes `msg` little endian into `buf` (cleared first; reuse it to avoid allocation).
pub fn encode_into<M: Cdr>(msg: &M, buf: &mut Vec<u8>) {
    let mut w = CdrWriter::new(buf, Endian::Little);
    msg.encode(&mut w);
}

/// Encodes `msg` little endian into a new buffer.
pub fn encode<M: Cdr>(msg: &M) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_into(msg, &mut buf);
    buf
}

/// (`pkg/Name`, definition text, direct dependencies `pkg/Name`).
type Def = (&'static str, &'static str, &'static [&'static str]);

const DEFS: &[Def] = &[
    ("builtin_interfaces/Time", "int32 sec\nuint32 nanosec\n", &[]),
    (
        "std_msgs/Header",
        "builtin_interfaces/Time stamp\nstring frame_id\n",
        &["builtin_interfaces/Time"],
    ),
    ("std_msgs/String", "string data\n", &[]),
    (
        "std_msgs/MultiArrayDimension",
        "string label\nuint32 size\nuint32 stride\n",
        &[],
    ),
    (
        "std_msgs/MultiArrayLayout",
        "std_msgs/MultiArrayDimension[] dim\nuint32 data_offset\n",
        &["std_msgs/MultiArrayDimension"],
    ),
    (
        "std_msgs/Float64MultiArray",
        "std_msgs/MultiArrayLayout layout\nfloat64[] data\n",
        &["std_msgs/MultiArrayLayout"],
    ),
    ("geometry_msgs/Vector3", "float64 x\nfloat64 y\nfloat64 z\n", &[]),
    ("geometry_msgs/Point", "float64 x\nfloat64 y\nfloat64 z\n", &[]),
    (
        "geometry_msgs/Quaternion",
        "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n",
        &[],
    ),
    (
        "geometry_msgs/Pose",
        "geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation\n",
        &["geometry_msgs/Point", "geometry_msgs/Quaternion"],
    ),
    (
        "geometry_msgs/PoseStamped",
        "std_msgs/Header header\ngeometry_msgs/Pose pose\n",
        &["std_msgs/Header", "geometry_msgs/Pose"],
    ),
    (
        "geometry_msgs/Twist",
        "geometry_msgs/Vector3 linear\ngeometry_msgs/Vector3 angular\n",
        &["geometry_msgs/Vector3"],
    ),
    (
        "geometry_msgs/Transform",
        "geometry_msgs/Vector3 translation\ngeometry_msgs/Quaternion rotation\n",
        &["geometry_msgs/Vector3", "geometry_msgs/Quaternion"],
    ),
    (
        "geometry_msgs/TransformStamped",
        "std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/Transform transform\n",
        &["std_msgs/Header", "geometry_msgs/Transform"],
    ),
    (
        "tf2_msgs/TFMessage",
        "geometry_msgs/TransformStamped[] transforms\n",
        &["geometry_msgs/TransformStamped"],
    ),
    (
        "sensor_msgs/Imu",
        "std_msgs/Header header\ngeometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance\ngeometry_msgs/Vector3 angular_velocity\nfloat64[9] angular_velocity_covariance\ngeometry_msgs/Vector3 linear_acceleration\nfloat64[9] linear_acceleration_covariance\n",
        &["std_msgs/Header", "geometry_msgs/Quaternion", "geometry_msgs/Vector3"],
    ),
    (
        "sensor_msgs/JointState",
        "std_msgs/Header header\nstring[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort\n",
        &["std_msgs/Header"],
    ),
    (
        "sensor_msgs/Image",
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n",
        &["std_msgs/Header"],
    ),
    (
        "sensor_msgs/CompressedImage",
        "std_msgs/Header header\nstring format\nuint8[] data\n",
        &["std_msgs/Header"],
    ),
    (
        "sensor_msgs/RegionOfInterest",
        "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n",
        &[],
    ),
    (
        "sensor_msgs/CameraInfo",
        "std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\nfloat64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\nuint32 binning_y\nsensor_msgs/RegionOfInterest roi\n",
        &["std_msgs/Header", "sensor_msgs/RegionOfInterest"],
    ),
    (
        "sensor_msgs/PointField",
        "uint8 INT8=1\nuint8 UINT8=2\nuint8 INT16=3\nuint8 UINT16=4\nuint8 INT32=5\nuint8 UINT32=6\nuint8 FLOAT32=7\nuint8 FLOAT64=8\nstring name\nuint32 offset\nuint8 datatype\nuint32 count\n",
        &[],
    ),
    (
        "sensor_msgs/PointCloud2",
        "std_msgs/Header header\nuint32 height\nuint32 width\nsensor_msgs/PointField[] fields\nbool is_bigendian\nuint32 point_step\nuint32 row_step\nuint8[] data\nbool is_dense\n",
        &["std_msgs/Header", "sensor_msgs/PointField"],
    ),
    (
        "sattva_msgs/MonitorState",
        "std_msgs/Header header\nstring[] names\nfloat64[] robustness\nbool[] violated\nuint64[] violations\nuint64[] onsets\nfloat64[] min_robustness\nuint64 hold_cycles\nuint64 safe_stops\n",
        &["std_msgs/Header"],
    ),
    (
        "rcl_interfaces/Log",
        "byte DEBUG=10\nbyte INFO=20\nbyte WARN=30\nbyte ERROR=40\nbyte FATAL=50\nbuiltin_interfaces/Time stamp\nuint8 level\nstring name\nstring msg\nstring file\nstring function\nuint32 line\n",
        &["builtin_interfaces/Time"],
    ),
];

/// `pkg/msg/Name` or `pkg/Name` -> `pkg/Name`.
fn short_name(type_name: &str) -> String {
    type_name.replacen("/msg/", "/", 1)
}

/// The `ros2msg` schema text for a type this module knows (`pkg/msg/Name` or `pkg/Name`):
/// its definition, then each dependency once (depth first) after a `=`x80 line and `MSG: pkg/Name`.
pub fn schema_text(type_name: &str) -> Option<String> {
    let name = short_name(type_name);
    let find = |n: &str| DEFS.iter().find(|d| d.0 == n);
    let root = find(&name)?;
    let mut out = String::from(root.1);
    let mut seen: Vec<&str> = vec![root.0];
    let mut stack: Vec<&str> = root.2.iter().rev().copied().collect();
    while let Some(dep) = stack.pop() {
        if seen.contains(&dep) {
            continue;
        }
        seen.push(dep);
        let d = find(dep)?;
        out.push_str(&"=".repeat(80));
        out.push_str("\nMSG: ");
        out.push_str(d.0);
        out.push('\n');
        out.push_str(d.1);
        stack.extend(d.2.iter().rev().copied());
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// builtin_interfaces, std_msgs

/// `builtin_interfaces/msg/Time`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Time {
    /// Seconds.
    pub sec: i32,
    /// Nanoseconds, `[0, 1e9)`.
    pub nanosec: u32,
}

impl Time {
    /// From nanoseconds since the epoch (floor division, so `nanosec` stays in range).
    pub fn from_nanos(ns: i64) -> Time {
        Time {
            sec: ns.div_euclid(1_000_000_000) as i32,
            nanosec: ns.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(self) -> i64 {
        self.sec as i64 * 1_000_000_000 + self.nanosec as i64
    }
}

impl Cdr for Time {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_i32(self.sec);
        w.write_u32(self.nanosec);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Time {
            sec: r.read_i32()?,
            nanosec: r.read_u32()?,
        })
    }
}
impl RosMessage for Time {
    const TYPE_NAME: &'static str = "builtin_interfaces/msg/Time";
}

/// `std_msgs/msg/Header`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Acquisition time.
    pub stamp: Time,
    /// Coordinate frame.
    pub frame_id: String,
}

impl Cdr for Header {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.stamp.encode(w);
        w.write_str(&self.frame_id);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Header {
            stamp: Time::decode(r)?,
            frame_id: r.read_string()?,
        })
    }
}
impl RosMessage for Header {
    const TYPE_NAME: &'static str = "std_msgs/msg/Header";
}

/// `std_msgs/msg/String`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StringMsg {
    /// The text.
    pub data: String,
}

impl Cdr for StringMsg {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_str(&self.data);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(StringMsg {
            data: r.read_string()?,
        })
    }
}
impl RosMessage for StringMsg {
    const TYPE_NAME: &'static str = "std_msgs/msg/String";
}

/// `std_msgs/msg/MultiArrayDimension`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MultiArrayDimension {
    /// Label of the dimension.
    pub label: String,
    /// Size of the dimension.
    pub size: u32,
    /// Stride of the dimension.
    pub stride: u32,
}

impl Cdr for MultiArrayDimension {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_str(&self.label);
        w.write_u32(self.size);
        w.write_u32(self.stride);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(MultiArrayDimension {
            label: r.read_string()?,
            size: r.read_u32()?,
            stride: r.read_u32()?,
        })
    }
}
impl RosMessage for MultiArrayDimension {
    const TYPE_NAME: &'static str = "std_msgs/msg/MultiArrayDimension";
}

/// `std_msgs/msg/MultiArrayLayout`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MultiArrayLayout {
    /// Dimensions.
    pub dim: Vec<MultiArrayDimension>,
    /// Padding elements at the front of data.
    pub data_offset: u32,
}

impl Cdr for MultiArrayLayout {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_len(self.dim.len());
        for d in &self.dim {
            d.encode(w);
        }
        w.write_u32(self.data_offset);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let n = r.read_seq_len(12)?;
        let mut dim = Vec::with_capacity(n);
        for _ in 0..n {
            dim.push(MultiArrayDimension::decode(r)?);
        }
        Ok(MultiArrayLayout {
            dim,
            data_offset: r.read_u32()?,
        })
    }
}
impl RosMessage for MultiArrayLayout {
    const TYPE_NAME: &'static str = "std_msgs/msg/MultiArrayLayout";
}

/// `std_msgs/msg/Float64MultiArray`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Float64MultiArray {
    /// Layout.
    pub layout: MultiArrayLayout,
    /// Values.
    pub data: Vec<f64>,
}

impl Cdr for Float64MultiArray {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.layout.encode(w);
        w.write_f64_seq(&self.data);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Float64MultiArray {
            layout: MultiArrayLayout::decode(r)?,
            data: r.read_f64_seq()?,
        })
    }
}
impl RosMessage for Float64MultiArray {
    const TYPE_NAME: &'static str = "std_msgs/msg/Float64MultiArray";
}

// ---------------------------------------------------------------------------------------------
// geometry_msgs, tf2_msgs

/// `geometry_msgs/msg/Vector3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Vector3 {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

impl Cdr for Vector3 {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_f64(self.x);
        w.write_f64(self.y);
        w.write_f64(self.z);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Vector3 {
            x: r.read_f64()?,
            y: r.read_f64()?,
            z: r.read_f64()?,
        })
    }
}
impl RosMessage for Vector3 {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/Vector3";
}

/// `geometry_msgs/msg/Point`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Point {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

impl Cdr for Point {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_f64(self.x);
        w.write_f64(self.y);
        w.write_f64(self.z);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Point {
            x: r.read_f64()?,
            y: r.read_f64()?,
            z: r.read_f64()?,
        })
    }
}
impl RosMessage for Point {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/Point";
}

/// `geometry_msgs/msg/Quaternion` (field order x, y, z, w as on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Quaternion {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
    /// w.
    pub w: f64,
}

impl Default for Quaternion {
    fn default() -> Self {
        Quaternion {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

impl Cdr for Quaternion {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_f64(self.x);
        w.write_f64(self.y);
        w.write_f64(self.z);
        w.write_f64(self.w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Quaternion {
            x: r.read_f64()?,
            y: r.read_f64()?,
            z: r.read_f64()?,
            w: r.read_f64()?,
        })
    }
}
impl RosMessage for Quaternion {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/Quaternion";
}

/// `geometry_msgs/msg/Pose`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Pose {
    /// Position.
    pub position: Point,
    /// Orientation.
    pub orientation: Quaternion,
}

impl Cdr for Pose {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.position.encode(w);
        self.orientation.encode(w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Pose {
            position: Point::decode(r)?,
            orientation: Quaternion::decode(r)?,
        })
    }
}
impl RosMessage for Pose {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/Pose";
}

/// `geometry_msgs/msg/PoseStamped` (e.g. motion-capture ground truth).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PoseStamped {
    /// Stamp and frame.
    pub header: Header,
    /// The pose.
    pub pose: Pose,
}

impl Cdr for PoseStamped {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        self.pose.encode(w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(PoseStamped {
            header: Header::decode(r)?,
            pose: Pose::decode(r)?,
        })
    }
}
impl RosMessage for PoseStamped {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/PoseStamped";
}

/// `geometry_msgs/msg/Twist`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Twist {
    /// Linear velocity.
    pub linear: Vector3,
    /// Angular velocity.
    pub angular: Vector3,
}

impl Cdr for Twist {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.linear.encode(w);
        self.angular.encode(w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Twist {
            linear: Vector3::decode(r)?,
            angular: Vector3::decode(r)?,
        })
    }
}
impl RosMessage for Twist {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/Twist";
}

/// `geometry_msgs/msg/Transform`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Transform {
    /// Translation.
    pub translation: Vector3,
    /// Rotation.
    pub rotation: Quaternion,
}

impl Cdr for Transform {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.translation.encode(w);
        self.rotation.encode(w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Transform {
            translation: Vector3::decode(r)?,
            rotation: Quaternion::decode(r)?,
        })
    }
}
impl RosMessage for Transform {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/Transform";
}

/// `geometry_msgs/msg/TransformStamped`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TransformStamped {
    /// Stamp and parent frame.
    pub header: Header,
    /// Child frame.
    pub child_frame_id: String,
    /// Transform from parent to child.
    pub transform: Transform,
}

impl Cdr for TransformStamped {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_str(&self.child_frame_id);
        self.transform.encode(w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(TransformStamped {
            header: Header::decode(r)?,
            child_frame_id: r.read_string()?,
            transform: Transform::decode(r)?,
        })
    }
}
impl RosMessage for TransformStamped {
    const TYPE_NAME: &'static str = "geometry_msgs/msg/TransformStamped";
}

/// `tf2_msgs/msg/TFMessage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TfMessage {
    /// Transforms.
    pub transforms: Vec<TransformStamped>,
}

impl Cdr for TfMessage {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_len(self.transforms.len());
        for t in &self.transforms {
            t.encode(w);
        }
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        // Smallest TransformStamped: 8 (stamp) + 4 + 4 (two strings) + 56 (transform).
        let n = r.read_seq_len(72)?;
        let mut transforms = Vec::with_capacity(n);
        for _ in 0..n {
            transforms.push(TransformStamped::decode(r)?);
        }
        Ok(TfMessage { transforms })
    }
}
impl RosMessage for TfMessage {
    const TYPE_NAME: &'static str = "tf2_msgs/msg/TFMessage";
}

// ---------------------------------------------------------------------------------------------
// sensor_msgs

/// `sensor_msgs/msg/Imu`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Imu {
    /// Stamp and IMU frame.
    pub header: Header,
    /// Orientation estimate (`orientation_covariance[0] = -1` when absent).
    pub orientation: Quaternion,
    /// Row-major 3x3 covariance.
    pub orientation_covariance: [f64; 9],
    /// Angular velocity, rad/s.
    pub angular_velocity: Vector3,
    /// Row-major 3x3 covariance.
    pub angular_velocity_covariance: [f64; 9],
    /// Linear acceleration, m/s^2.
    pub linear_acceleration: Vector3,
    /// Row-major 3x3 covariance.
    pub linear_acceleration_covariance: [f64; 9],
}

impl Cdr for Imu {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        self.orientation.encode(w);
        w.write_f64_array(&self.orientation_covariance);
        self.angular_velocity.encode(w);
        w.write_f64_array(&self.angular_velocity_covariance);
        self.linear_acceleration.encode(w);
        w.write_f64_array(&self.linear_acceleration_covariance);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Imu {
            header: Header::decode(r)?,
            orientation: Quaternion::decode(r)?,
            orientation_covariance: r.read_f64_array()?,
            angular_velocity: Vector3::decode(r)?,
            angular_velocity_covariance: r.read_f64_array()?,
            linear_acceleration: Vector3::decode(r)?,
            linear_acceleration_covariance: r.read_f64_array()?,
        })
    }
}
impl RosMessage for Imu {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Imu";
}

/// `sensor_msgs/msg/JointState`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct JointState {
    /// Stamp.
    pub header: Header,
    /// Joint names.
    pub name: Vec<String>,
    /// Positions (may be empty).
    pub position: Vec<f64>,
    /// Velocities (may be empty).
    pub velocity: Vec<f64>,
    /// Efforts (may be empty).
    pub effort: Vec<f64>,
}

impl Cdr for JointState {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_string_seq(&self.name);
        w.write_f64_seq(&self.position);
        w.write_f64_seq(&self.velocity);
        w.write_f64_seq(&self.effort);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(JointState {
            header: Header::decode(r)?,
            name: r.read_string_seq()?,
            position: r.read_f64_seq()?,
            velocity: r.read_f64_seq()?,
            effort: r.read_f64_seq()?,
        })
    }
}
impl RosMessage for JointState {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/JointState";
}

/// `sensor_msgs/msg/Image`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Image {
    /// Stamp and camera frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding (`rgb8`, `16UC1`, ...).
    pub encoding: String,
    /// 1 when multi-byte pixels are big endian.
    pub is_bigendian: u8,
    /// Bytes per row.
    pub step: u32,
    /// Pixels.
    pub data: Vec<u8>,
}

impl Cdr for Image {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_u32(self.height);
        w.write_u32(self.width);
        w.write_str(&self.encoding);
        w.write_u8(self.is_bigendian);
        w.write_u32(self.step);
        w.write_byte_seq(&self.data);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Image {
            header: Header::decode(r)?,
            height: r.read_u32()?,
            width: r.read_u32()?,
            encoding: r.read_string()?,
            is_bigendian: r.read_u8()?,
            step: r.read_u32()?,
            data: r.read_byte_seq()?.to_vec(),
        })
    }
}
impl RosMessage for Image {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Image";
}

/// `sensor_msgs/msg/CompressedImage`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CompressedImage {
    /// Stamp and camera frame.
    pub header: Header,
    /// `jpeg`, `png`, or image_transport's `rgb8; jpeg compressed bgr8` form.
    pub format: String,
    /// The compressed image.
    pub data: Vec<u8>,
}

impl Cdr for CompressedImage {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_str(&self.format);
        w.write_byte_seq(&self.data);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(CompressedImage {
            header: Header::decode(r)?,
            format: r.read_string()?,
            data: r.read_byte_seq()?.to_vec(),
        })
    }
}
impl RosMessage for CompressedImage {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CompressedImage";
}

/// `sensor_msgs/msg/RegionOfInterest`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RegionOfInterest {
    /// Left column.
    pub x_offset: u32,
    /// Top row.
    pub y_offset: u32,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Whether the ROI is to be rectified.
    pub do_rectify: bool,
}

impl Cdr for RegionOfInterest {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_u32(self.x_offset);
        w.write_u32(self.y_offset);
        w.write_u32(self.height);
        w.write_u32(self.width);
        w.write_bool(self.do_rectify);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(RegionOfInterest {
            x_offset: r.read_u32()?,
            y_offset: r.read_u32()?,
            height: r.read_u32()?,
            width: r.read_u32()?,
            do_rectify: r.read_bool()?,
        })
    }
}
impl RosMessage for RegionOfInterest {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/RegionOfInterest";
}

/// `sensor_msgs/msg/CameraInfo`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CameraInfo {
    /// Stamp and camera frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// `plumb_bob`, `rational_polynomial`, ...
    pub distortion_model: String,
    /// Distortion parameters.
    pub d: Vec<f64>,
    /// Intrinsic matrix, row major.
    pub k: [f64; 9],
    /// Rectification matrix, row major.
    pub r: [f64; 9],
    /// Projection matrix 3x4, row major.
    pub p: [f64; 12],
    /// Horizontal binning.
    pub binning_x: u32,
    /// Vertical binning.
    pub binning_y: u32,
    /// Region of interest.
    pub roi: RegionOfInterest,
}

impl Cdr for CameraInfo {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_u32(self.height);
        w.write_u32(self.width);
        w.write_str(&self.distortion_model);
        w.write_f64_seq(&self.d);
        w.write_f64_array(&self.k);
        w.write_f64_array(&self.r);
        w.write_f64_array(&self.p);
        w.write_u32(self.binning_x);
        w.write_u32(self.binning_y);
        self.roi.encode(w);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(CameraInfo {
            header: Header::decode(r)?,
            height: r.read_u32()?,
            width: r.read_u32()?,
            distortion_model: r.read_string()?,
            d: r.read_f64_seq()?,
            k: r.read_f64_array()?,
            r: r.read_f64_array()?,
            p: r.read_f64_array()?,
            binning_x: r.read_u32()?,
            binning_y: r.read_u32()?,
            roi: RegionOfInterest::decode(r)?,
        })
    }
}
impl RosMessage for CameraInfo {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/CameraInfo";
}

/// `sensor_msgs/msg/PointField`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PointField {
    /// Field name (`x`, `rgb`, ...).
    pub name: String,
    /// Byte offset in a point.
    pub offset: u32,
    /// Datatype code (1 INT8 .. 8 FLOAT64).
    pub datatype: u8,
    /// Elements in the field.
    pub count: u32,
}

impl Cdr for PointField {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        w.write_str(&self.name);
        w.write_u32(self.offset);
        w.write_u8(self.datatype);
        w.write_u32(self.count);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(PointField {
            name: r.read_string()?,
            offset: r.read_u32()?,
            datatype: r.read_u8()?,
            count: r.read_u32()?,
        })
    }
}
impl RosMessage for PointField {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/PointField";
}

/// `sensor_msgs/msg/PointCloud2`, points kept as raw bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PointCloud2 {
    /// Stamp and sensor frame.
    pub header: Header,
    /// Rows (1 for unorganized clouds).
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// Point layout.
    pub fields: Vec<PointField>,
    /// Byte order of `data`.
    pub is_bigendian: bool,
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// Raw points.
    pub data: Vec<u8>,
    /// True when no point is invalid.
    pub is_dense: bool,
}

impl Cdr for PointCloud2 {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_u32(self.height);
        w.write_u32(self.width);
        w.write_len(self.fields.len());
        for f in &self.fields {
            f.encode(w);
        }
        w.write_bool(self.is_bigendian);
        w.write_u32(self.point_step);
        w.write_u32(self.row_step);
        w.write_byte_seq(&self.data);
        w.write_bool(self.is_dense);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = Header::decode(r)?;
        let height = r.read_u32()?;
        let width = r.read_u32()?;
        let n = r.read_seq_len(13)?;
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            fields.push(PointField::decode(r)?);
        }
        Ok(PointCloud2 {
            header,
            height,
            width,
            fields,
            is_bigendian: r.read_bool()?,
            point_step: r.read_u32()?,
            row_step: r.read_u32()?,
            data: r.read_byte_seq()?.to_vec(),
            is_dense: r.read_bool()?,
        })
    }
}
impl RosMessage for PointCloud2 {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/PointCloud2";
}

// ---------------------------------------------------------------------------------------------
// rcl_interfaces (what every ROS 2 bag with /rosout holds)

/// `rcl_interfaces/msg/Log` (a `/rosout` record).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Log {
    /// When the record was logged.
    pub stamp: Time,
    /// Severity (10 DEBUG, 20 INFO, 30 WARN, 40 ERROR, 50 FATAL).
    pub level: u8,
    /// Logger name.
    pub name: String,
    /// Text.
    pub msg: String,
    /// Source file.
    pub file: String,
    /// Function.
    pub function: String,
    /// Line.
    pub line: u32,
}

impl Cdr for Log {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.stamp.encode(w);
        w.write_u8(self.level);
        w.write_str(&self.name);
        w.write_str(&self.msg);
        w.write_str(&self.file);
        w.write_str(&self.function);
        w.write_u32(self.line);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        Ok(Log {
            stamp: Time::decode(r)?,
            level: r.read_u8()?,
            name: r.read_string()?,
            msg: r.read_string()?,
            file: r.read_string()?,
            function: r.read_string()?,
            line: r.read_u32()?,
        })
    }
}
impl RosMessage for Log {
    const TYPE_NAME: &'static str = "rcl_interfaces/msg/Log";
}

// ---------------------------------------------------------------------------------------------
// sattva_msgs

/// `sattva_msgs/msg/MonitorState`: the STL safety monitors at one control cycle (parallel
/// arrays in name order; see `ros2_ws/src/sattva_msgs/msg/MonitorState.msg`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct MonitorState {
    /// The cycle's backend time.
    pub header: Header,
    /// The monitors' names.
    pub names: Vec<String>,
    /// Robustness this cycle (NaN while a spec's horizon has not passed).
    pub robustness: Vec<f64>,
    /// Robustness below zero this cycle.
    pub violated: Vec<bool>,
    /// Violating cycles so far.
    pub violations: Vec<u64>,
    /// Violations that began so far.
    pub onsets: Vec<u64>,
    /// Smallest robustness so far.
    pub min_robustness: Vec<f64>,
    /// Cycles a monitor made the loop hold, so far.
    pub hold_cycles: u64,
    /// Safe stops so far.
    pub safe_stops: u64,
}

impl Cdr for MonitorState {
    fn encode(&self, w: &mut CdrWriter<'_>) {
        self.header.encode(w);
        w.write_string_seq(&self.names);
        w.write_f64_seq(&self.robustness);
        w.write_len(self.violated.len());
        for &b in &self.violated {
            w.write_bool(b);
        }
        for v in [&self.violations, &self.onsets] {
            w.write_len(v.len());
            for &x in v {
                w.write_u64(x);
            }
        }
        w.write_f64_seq(&self.min_robustness);
        w.write_u64(self.hold_cycles);
        w.write_u64(self.safe_stops);
    }
    fn decode(r: &mut CdrReader<'_>) -> Result<Self, CdrError> {
        let header = Header::decode(r)?;
        let names = r.read_string_seq()?;
        let robustness = r.read_f64_seq()?;
        let n = r.read_seq_len(1)?;
        let violated = (0..n).map(|_| r.read_bool()).collect::<Result<_, _>>()?;
        let mut counts = || -> Result<Vec<u64>, CdrError> {
            let n = r.read_seq_len(8)?;
            (0..n).map(|_| r.read_u64()).collect()
        };
        let violations = counts()?;
        let onsets = counts()?;
        Ok(MonitorState {
            header,
            names,
            robustness,
            violated,
            violations,
            onsets,
            min_robustness: r.read_f64_seq()?,
            hold_cycles: r.read_u64()?,
            safe_stops: r.read_u64()?,
        })
    }
}
impl RosMessage for MonitorState {
    const TYPE_NAME: &'static str = "sattva_msgs/msg/MonitorState";
}

// ---------------------------------------------------------------------------------------------
// Dynamic decoding by type name

/// A decoded message of any type this module knows.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AnyMessage {
    /// `sensor_msgs/msg/Imu`.
    Imu(Imu),
    /// `sensor_msgs/msg/JointState`.
    JointState(JointState),
    /// `sensor_msgs/msg/Image`.
    Image(Image),
    /// `sensor_msgs/msg/CompressedImage`.
    CompressedImage(CompressedImage),
    /// `sensor_msgs/msg/CameraInfo`.
    CameraInfo(CameraInfo),
    /// `sensor_msgs/msg/PointCloud2`.
    PointCloud2(PointCloud2),
    /// `tf2_msgs/msg/TFMessage`.
    Tf(TfMessage),
    /// `geometry_msgs/msg/TransformStamped`.
    TransformStamped(TransformStamped),
    /// `geometry_msgs/msg/Twist`.
    Twist(Twist),
    /// `geometry_msgs/msg/Pose`.
    Pose(Pose),
    /// `geometry_msgs/msg/Vector3`.
    Vector3(Vector3),
    /// `geometry_msgs/msg/Quaternion`.
    Quaternion(Quaternion),
    /// `std_msgs/msg/String`.
    String(StringMsg),
    /// `std_msgs/msg/Float64MultiArray`.
    Float64MultiArray(Float64MultiArray),
    /// `std_msgs/msg/Header`.
    Header(Header),
    /// `rcl_interfaces/msg/Log`.
    Log(Log),
}

impl AnyMessage {
    /// Every type [`AnyMessage::decode`] knows (fuzzing and tests iterate over them).
    pub const KNOWN_TYPES: &'static [&'static str] = &[
        "sensor_msgs/msg/Imu",
        "sensor_msgs/msg/JointState",
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/CompressedImage",
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

    /// Decodes `data` as `type_name` (`pkg/msg/Name`). `Ok(None)` for a type this module does
    /// not know (its raw bytes stay available to the caller).
    pub fn decode(type_name: &str, data: &[u8]) -> Result<Option<AnyMessage>, CdrError> {
        fn d<M: RosMessage>(
            data: &[u8],
            f: fn(M) -> AnyMessage,
        ) -> Result<Option<AnyMessage>, CdrError> {
            decode::<M>(data).map(|m| Some(f(m)))
        }
        match type_name {
            Imu::TYPE_NAME => d(data, AnyMessage::Imu),
            JointState::TYPE_NAME => d(data, AnyMessage::JointState),
            Image::TYPE_NAME => d(data, AnyMessage::Image),
            CompressedImage::TYPE_NAME => d(data, AnyMessage::CompressedImage),
            CameraInfo::TYPE_NAME => d(data, AnyMessage::CameraInfo),
            PointCloud2::TYPE_NAME => d(data, AnyMessage::PointCloud2),
            TfMessage::TYPE_NAME => d(data, AnyMessage::Tf),
            TransformStamped::TYPE_NAME => d(data, AnyMessage::TransformStamped),
            Twist::TYPE_NAME => d(data, AnyMessage::Twist),
            Pose::TYPE_NAME => d(data, AnyMessage::Pose),
            Vector3::TYPE_NAME => d(data, AnyMessage::Vector3),
            Quaternion::TYPE_NAME => d(data, AnyMessage::Quaternion),
            StringMsg::TYPE_NAME => d(data, AnyMessage::String),
            Float64MultiArray::TYPE_NAME => d(data, AnyMessage::Float64MultiArray),
            Header::TYPE_NAME => d(data, AnyMessage::Header),
            Log::TYPE_NAME => d(data, AnyMessage::Log),
            _ => Ok(None),
        }
    }

    /// Encodes this message little endian into `buf` (cleared first).
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        match self {
            AnyMessage::Imu(m) => encode_into(m, buf),
            AnyMessage::JointState(m) => encode_into(m, buf),
            AnyMessage::Image(m) => encode_into(m, buf),
            AnyMessage::CompressedImage(m) => encode_into(m, buf),
            AnyMessage::CameraInfo(m) => encode_into(m, buf),
            AnyMessage::PointCloud2(m) => encode_into(m, buf),
            AnyMessage::Tf(m) => encode_into(m, buf),
            AnyMessage::TransformStamped(m) => encode_into(m, buf),
            AnyMessage::Twist(m) => encode_into(m, buf),
            AnyMessage::Pose(m) => encode_into(m, buf),
            AnyMessage::Vector3(m) => encode_into(m, buf),
            AnyMessage::Quaternion(m) => encode_into(m, buf),
            AnyMessage::String(m) => encode_into(m, buf),
            AnyMessage::Float64MultiArray(m) => encode_into(m, buf),
            AnyMessage::Header(m) => encode_into(m, buf),
            AnyMessage::Log(m) => encode_into(m, buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_lists_each_dependency_once_after_separator() {
        let s = Imu::schema();
        assert!(s.starts_with("std_msgs/Header header\n"));
        let sep = format!("{}\nMSG: ", "=".repeat(80));
        let deps: Vec<&str> = s
            .split(&sep)
            .skip(1)
            .map(|b| b.lines().next().unwrap())
            .collect();
        assert_eq!(
            deps,
            [
                "std_msgs/Header",
                "builtin_interfaces/Time",
                "geometry_msgs/Quaternion",
                "geometry_msgs/Vector3"
            ]
        );
        assert!(schema_text("test_msgs/msg/Arrays").is_none());
        // Every dependency named anywhere has a definition.
        for d in DEFS {
            assert!(schema_text(d.0).is_some(), "{}", d.0);
        }
    }

    #[test]
    fn string_matches_rosbag2_bytes() {
        // From the rosbag2 talker test bag: "Hello, world! 0".
        let mut expect = vec![0u8, 1, 0, 0, 16, 0, 0, 0];
        expect.extend_from_slice(b"Hello, world! 0\0");
        let m = StringMsg {
            data: "Hello, world! 0".into(),
        };
        assert_eq!(encode(&m), expect);
        assert_eq!(decode::<StringMsg>(&expect).unwrap(), m);
    }

    #[test]
    fn imu_layout_offsets() {
        let m = Imu {
            header: Header {
                stamp: Time { sec: 1, nanosec: 2 },
                frame_id: "imu".into(),
            },
            orientation: Quaternion {
                x: 0.1,
                y: 0.2,
                z: 0.3,
                w: 0.9,
            },
            ..Default::default()
        };
        let b = encode(&m);
        // stamp 0..8, frame_id len 8..12, "imu\0" 12..16, quaternion x at 16 (8-aligned).
        assert_eq!(&b[4 + 16..4 + 24], &0.1f64.to_le_bytes());
        // 4 quat + 9 cov + 3 + 9 + 3 + 9 = 37 doubles after offset 16.
        assert_eq!(b.len(), 4 + 16 + 37 * 8);
        assert_eq!(decode::<Imu>(&b).unwrap(), m);
    }
}
