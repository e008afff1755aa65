//! `sattva.Bag`: the agent's rosbag2 reader (`sattva::record::reader::Bag`: MCAP and sqlite3,
//! multi-file, compressed, damage-tolerant) with messages decoded to Python objects and numpy.

use std::path::PathBuf;
use std::sync::Arc;

use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use sattva::record::msgs::{AnyMessage, Header, Image, Imu, JointState};
use sattva::record::reader::{Bag as Core, BagMessage, ReplayError};

use crate::{rust_err, value_err};

fn open_err(e: ReplayError) -> PyErr {
    match e {
        ReplayError::NotFound(_) => PyFileNotFoundError::new_err(e.to_string()),
        e => rust_err(e),
    }
}

/// A rosbag2 bag (directory with `metadata.yaml`, or one `.mcap` / `.db3` file), read into
/// memory when opened (GIL released). `topics`: keep only these topics (the others are skipped
/// while reading).
///
/// Decoded forms (`Message.data`): `sensor_msgs/msg/Imu` and `JointState` -> dicts of numpy
/// float64 arrays; `Image` -> an ndarray (H, W) or (H, W, C) of the encoding's dtype (mono8,
/// 8UC1-4, rgb8/bgr8/rgba8/bgra8 -> uint8, mono16/16UC1 -> uint16, 32FC1 -> float32); the
/// other types the reader knows (TF, CameraInfo, PointCloud2, Twist, String, Log, ...) -> dicts;
/// unknown types -> the raw CDR bytes.
///
/// Thread safety: a bag is immutable once open; share it between threads freely.
#[pyclass(module = "sattva", frozen)]
pub struct Bag {
    bag: Arc<Core>,
}

fn header<'py>(py: Python<'py>, h: &Header) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("stamp", h.stamp.as_nanos())?;
    d.set_item("frame_id", &h.frame_id)?;
    Ok(d)
}

fn cov<'py>(py: Python<'py>, c: &[f64; 9]) -> PyResult<Bound<'py, PyArray2<f64>>> {
    c.to_vec()
        .into_pyarray(py)
        .reshape([3, 3])
        .map_err(|e| value_err(e.to_string()))
}

fn imu_dict<'py>(py: Python<'py>, m: &Imu) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    let q = &m.orientation;
    d.set_item("orientation", vec![q.w, q.x, q.y, q.z].into_pyarray(py))?;
    d.set_item(
        "orientation_covariance",
        cov(py, &m.orientation_covariance)?,
    )?;
    let v = &m.angular_velocity;
    d.set_item("angular_velocity", vec![v.x, v.y, v.z].into_pyarray(py))?;
    d.set_item(
        "angular_velocity_covariance",
        cov(py, &m.angular_velocity_covariance)?,
    )?;
    let a = &m.linear_acceleration;
    d.set_item("linear_acceleration", vec![a.x, a.y, a.z].into_pyarray(py))?;
    d.set_item(
        "linear_acceleration_covariance",
        cov(py, &m.linear_acceleration_covariance)?,
    )?;
    Ok(d.into_any())
}

fn joints_dict<'py>(py: Python<'py>, m: &JointState) -> PyResult<Bound<'py, PyAny>> {
    let d = PyDict::new(py);
    d.set_item("name", m.name.clone())?;
    d.set_item("position", m.position.clone().into_pyarray(py))?;
    d.set_item("velocity", m.velocity.clone().into_pyarray(py))?;
    d.set_item("effort", m.effort.clone().into_pyarray(py))?;
    Ok(d.into_any())
}

/// Pixel layout of an encoding: channels, bytes per channel.
fn pixel(encoding: &str) -> Option<(usize, usize)> {
    Some(match encoding {
        "mono8" | "8UC1" => (1, 1),
        "8UC2" => (2, 1),
        "rgb8" | "bgr8" | "8UC3" => (3, 1),
        "rgba8" | "bgra8" | "8UC4" => (4, 1),
        "mono16" | "16UC1" => (1, 2),
        "16UC3" => (3, 2),
        "32FC1" => (1, 4),
        "32FC3" => (3, 4),
        _ => return None,
    })
}

/// The image as an ndarray: rows packed (row padding beyond `width` pixels dropped), multi-byte
/// pixels from the message's byte order. uint8 images move into numpy without another copy.
fn image_array<'py>(py: Python<'py>, m: Image) -> PyResult<Bound<'py, PyAny>> {
    let (h, w) = (m.height as usize, m.width as usize);
    let Some((c, bpc)) = pixel(&m.encoding) else {
        return Err(value_err(format!(
            "image encoding `{}` is not supported (use Message.raw for the bytes)",
            m.encoding
        )));
    };
    let row = w * c * bpc;
    let step = m.step as usize;
    if step < row || m.data.len() < step * h.saturating_sub(1) + row * usize::from(h > 0) {
        return Err(value_err(format!(
            "image {w}x{h} {}: step {step} and {} data bytes do not hold it",
            m.encoding,
            m.data.len()
        )));
    }
    let packed = if step == row {
        let mut d = m.data;
        d.truncate(row * h);
        d
    } else {
        let mut d = Vec::with_capacity(row * h);
        for r in 0..h {
            d.extend_from_slice(&m.data[r * step..r * step + row]);
        }
        d
    };
    let shape: Vec<usize> = if c == 1 { vec![h, w] } else { vec![h, w, c] };
    let big = m.is_bigendian != 0;
    let arr: Bound<'py, PyAny> = match bpc {
        1 => packed.into_pyarray(py).into_any(),
        2 => packed
            .chunks_exact(2)
            .map(|b| {
                let b = [b[0], b[1]];
                if big {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                }
            })
            .collect::<Vec<u16>>()
            .into_pyarray(py)
            .into_any(),
        _ => packed
            .chunks_exact(4)
            .map(|b| {
                let b = [b[0], b[1], b[2], b[3]];
                if big {
                    f32::from_be_bytes(b)
                } else {
                    f32::from_le_bytes(b)
                }
            })
            .collect::<Vec<f32>>()
            .into_pyarray(py)
            .into_any(),
    };
    arr.call_method1("reshape", (shape,))
}

/// One message of a bag.
#[pyclass(module = "sattva", frozen)]
pub struct Message {
    bag: Arc<Core>,
    index: usize,
    /// Topic name.
    #[pyo3(get)]
    topic: String,
    /// Message type, `pkg/msg/Name`.
    #[pyo3(get, name = "type")]
    type_name: String,
    /// When the recorder received it, ns since the epoch.
    #[pyo3(get)]
    log_time: i64,
    /// When it was published, ns (MCAP; equal to `log_time` in sqlite3 bags).
    #[pyo3(get)]
    publish_time: i64,
    /// The decoded message (see `Bag`).
    #[pyo3(get)]
    data: Py<PyAny>,
    /// The message header `{"stamp": ns, "frame_id": str}` (images add `encoding`), or None
    /// for types without one.
    #[pyo3(get)]
    header: Option<Py<PyDict>>,
}

#[pymethods]
impl Message {
    /// The serialized message (CDR with its 4-byte header).
    #[getter]
    fn raw<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bag.messages[self.index].data)
    }

    fn __repr__(&self) -> String {
        format!(
            "Message(topic={:?}, type={:?}, log_time={})",
            self.topic, self.type_name, self.log_time
        )
    }
}

fn message(py: Python<'_>, bag: &Arc<Core>, index: usize) -> PyResult<Message> {
    let m: &BagMessage = &bag.messages[index];
    let topic = &bag.topics[m.topic];
    let decoded = bag.decode(m).map_err(|e| {
        rust_err(std::io::Error::other(format!(
            "{}: message on {} at log time {} ns: {e}",
            bag.path.display(),
            topic.name,
            m.log_time
        )))
    })?;
    let (data, header): (Bound<'_, PyAny>, Option<Bound<'_, PyDict>>) = match decoded {
        None => (PyBytes::new(py, &m.data).into_any(), None),
        Some(AnyMessage::Imu(x)) => (imu_dict(py, &x)?, Some(header(py, &x.header)?)),
        Some(AnyMessage::JointState(x)) => (joints_dict(py, &x)?, Some(header(py, &x.header)?)),
        Some(AnyMessage::Image(x)) => {
            let h = header(py, &x.header)?;
            h.set_item("encoding", &x.encoding)?;
            (image_array(py, x)?, Some(h))
        }
        Some(other) => (
            pythonize::pythonize(py, &other).map_err(|e| value_err(e.to_string()))?,
            None,
        ),
    };
    Ok(Message {
        bag: bag.clone(),
        index,
        topic: topic.name.clone(),
        type_name: topic.type_name.clone(),
        log_time: m.log_time,
        publish_time: m.publish_time,
        data: data.unbind(),
        header: header.map(|h| h.unbind()),
    })
}

/// Iterator over a bag's messages in log-time order (see `Bag.messages`).
#[pyclass(module = "sattva")]
pub struct MessageIter {
    bag: Arc<Core>,
    next: usize,
    /// Topic indices to yield (None: all).
    keep: Option<Vec<usize>>,
}

#[pymethods]
impl MessageIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Message>> {
        while self.next < self.bag.messages.len() {
            let i = self.next;
            self.next += 1;
            let t = self.bag.messages[i].topic;
            if self.keep.as_ref().is_none_or(|k| k.contains(&t)) {
                return message(py, &self.bag, i).map(Some);
            }
        }
        Ok(None)
    }
}

impl Bag {
    fn topic_index(&self, name: &str) -> PyResult<usize> {
        self.bag.topic(name).map(|(i, _)| i).ok_or_else(|| {
            let names: Vec<_> = self.bag.topics.iter().map(|t| t.name.as_str()).collect();
            PyKeyError::new_err(format!(
                "{}: no topic `{name}` (topics: {})",
                self.bag.path.display(),
                names.join(", ")
            ))
        })
    }

    fn typed(&self, name: &str, want: &str) -> PyResult<usize> {
        let i = self.topic_index(name)?;
        let have = &self.bag.topics[i].type_name;
        if have != want {
            return Err(value_err(format!(
                "{}: topic `{name}` has type {have}, not {want}",
                self.bag.path.display()
            )));
        }
        Ok(i)
    }
}

#[pymethods]
impl Bag {
    #[new]
    #[pyo3(signature = (path, topics = None))]
    fn new(py: Python<'_>, path: PathBuf, topics: Option<Vec<String>>) -> PyResult<Self> {
        let bag = py
            .detach(|| match &topics {
                None => Core::open(&path),
                Some(t) => {
                    let t: Vec<&str> = t.iter().map(String::as_str).collect();
                    Core::open_topics(&path, &t)
                }
            })
            .map_err(open_err)?;
        Ok(Bag { bag: Arc::new(bag) })
    }

    /// Summary: path, storage files, message count, start/end log time (ns), duration (s),
    /// topics (name, type, serialization, count) and the warnings of damaged parts skipped.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let b = &self.bag;
        let d = PyDict::new(py);
        d.set_item("path", b.path.display().to_string())?;
        let files: Vec<String> = b.files.iter().map(|f| f.display().to_string()).collect();
        d.set_item("files", files)?;
        d.set_item("message_count", b.messages.len())?;
        let (start, end) = b
            .time_range()
            .map_or((None, None), |(s, e)| (Some(s), Some(e)));
        d.set_item("start", start)?;
        d.set_item("end", end)?;
        d.set_item(
            "duration",
            start.zip(end).map_or(0.0, |(s, e)| (e - s) as f64 * 1e-9),
        )?;
        if let Some(m) = &b.metadata {
            d.set_item("storage_identifier", &m.storage_identifier)?;
            d.set_item("ros_distro", m.ros_distro.clone())?;
        }
        d.set_item("topics", self.topics(py)?)?;
        d.set_item("warnings", b.warnings.clone())?;
        Ok(d)
    }

    /// Topics: a list of dicts `name`, `type`, `serialization_format`, `message_count`.
    #[getter]
    fn topics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let l = PyList::empty(py);
        for t in &self.bag.topics {
            let d = PyDict::new(py);
            d.set_item("name", &t.name)?;
            d.set_item("type", &t.type_name)?;
            d.set_item("serialization_format", &t.serialization_format)?;
            d.set_item("message_count", t.message_count)?;
            l.append(d)?;
        }
        Ok(l)
    }

    fn __len__(&self) -> usize {
        self.bag.messages.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "Bag({:?}, messages={}, topics={})",
            self.bag.path.display().to_string(),
            self.bag.messages.len(),
            self.bag.topics.len()
        )
    }

    /// Messages in log-time order, decoded one at a time as the iterator advances; `topics`:
    /// only these (an unknown name raises KeyError listing the bag's topics).
    #[pyo3(signature = (topics = None))]
    fn messages(&self, topics: Option<Vec<String>>) -> PyResult<MessageIter> {
        let keep = topics
            .map(|t| {
                t.iter()
                    .map(|n| self.topic_index(n))
                    .collect::<PyResult<Vec<_>>>()
            })
            .transpose()?;
        Ok(MessageIter {
            bag: self.bag.clone(),
            next: 0,
            keep,
        })
    }

    fn __iter__(&self) -> MessageIter {
        MessageIter {
            bag: self.bag.clone(),
            next: 0,
            keep: None,
        }
    }

    /// Every `sensor_msgs/msg/Imu` message of `topic` as arrays (decoded with the GIL
    /// released): `log_time`, `stamp` (int64 ns, (N,)), `gyr`, `acc` ((N, 3) float64, rad/s and
    /// m/s^2), `orientation` ((N, 4) float64, `[w, x, y, z]` as recorded).
    fn imu<'py>(&self, py: Python<'py>, topic: &str) -> PyResult<Bound<'py, PyDict>> {
        let ti = self.typed(topic, "sensor_msgs/msg/Imu")?;
        let bag = &self.bag;
        let cols = py.detach(move || -> Result<_, String> {
            let (mut lt, mut st, mut g, mut a, mut q) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for m in bag.messages.iter().filter(|m| m.topic == ti) {
                let x: Imu = sattva::record::msgs::decode(&m.data)
                    .map_err(|e| format!("message at log time {} ns: {e}", m.log_time))?;
                lt.push(m.log_time);
                st.push(x.header.stamp.as_nanos());
                let (v, l, o) = (x.angular_velocity, x.linear_acceleration, x.orientation);
                g.extend([v.x, v.y, v.z]);
                a.extend([l.x, l.y, l.z]);
                q.extend([o.w, o.x, o.y, o.z]);
            }
            Ok((lt, st, g, a, q))
        });
        let (lt, st, g, a, q) = cols.map_err(|e| {
            rust_err(std::io::Error::other(format!(
                "{}: topic {topic}: {e}",
                bag.path.display()
            )))
        })?;
        let n = lt.len();
        let d = PyDict::new(py);
        d.set_item("log_time", lt.into_pyarray(py))?;
        d.set_item("stamp", st.into_pyarray(py))?;
        let shape = |v: Vec<f64>, w: usize| {
            v.into_pyarray(py)
                .reshape([n, w])
                .map_err(|e| value_err(e.to_string()))
        };
        d.set_item("gyr", shape(g, 3)?)?;
        d.set_item("acc", shape(a, 3)?)?;
        d.set_item("orientation", shape(q, 4)?)?;
        Ok(d)
    }

    /// Every `sensor_msgs/msg/JointState` message of `topic` as arrays: `log_time`, `stamp`
    /// (int64 ns), `name` (the first message's joint names) and `position`, `velocity`,
    /// `effort` ((N, joints) float64; NaN where a message lacks the value or names other
    /// joints).
    fn joint_states<'py>(&self, py: Python<'py>, topic: &str) -> PyResult<Bound<'py, PyDict>> {
        let ti = self.typed(topic, "sensor_msgs/msg/JointState")?;
        let bag = &self.bag;
        let res = py.detach(move || -> Result<_, String> {
            let mut names: Option<Vec<String>> = None;
            let (mut lt, mut st) = (Vec::new(), Vec::new());
            let mut cols: [Vec<f64>; 3] = Default::default();
            for m in bag.messages.iter().filter(|m| m.topic == ti) {
                let x: JointState = sattva::record::msgs::decode(&m.data)
                    .map_err(|e| format!("message at log time {} ns: {e}", m.log_time))?;
                let names = names.get_or_insert_with(|| x.name.clone());
                lt.push(m.log_time);
                st.push(x.header.stamp.as_nanos());
                let same = x.name == *names;
                for (c, v) in cols.iter_mut().zip([&x.position, &x.velocity, &x.effort]) {
                    for j in 0..names.len() {
                        c.push(if same {
                            v.get(j).copied().unwrap_or(f64::NAN)
                        } else {
                            f64::NAN
                        });
                    }
                }
            }
            Ok((names.unwrap_or_default(), lt, st, cols))
        });
        let (names, lt, st, [p, v, e]) = res.map_err(|e| {
            rust_err(std::io::Error::other(format!(
                "{}: topic {topic}: {e}",
                bag.path.display()
            )))
        })?;
        let (n, j) = (lt.len(), names.len());
        let d = PyDict::new(py);
        d.set_item("log_time", lt.into_pyarray(py))?;
        d.set_item("stamp", st.into_pyarray(py))?;
        d.set_item("name", names)?;
        for (k, c) in [("position", p), ("velocity", v), ("effort", e)] {
            let a: Bound<'py, PyArray2<f64>> = c
                .into_pyarray(py)
                .reshape([n, j])
                .map_err(|e| value_err(e.to_string()))?;
            d.set_item(k, a)?;
        }
        Ok(d)
    }
}
