//! The replay backend's camera: `sensor_msgs/Image` (`rgb8`, `bgr8`, `rgba8`, `bgra8`, `mono8`;
//! depth `16UC1` in millimetres and `32FC1` in metres, REP 118), `sensor_msgs/CompressedImage`
//! (JPEG, PNG; decoded with the `image` crate) and `CameraInfo` from a bag, handed to the vision
//! task as [`RgbdFrame`]s through [`FrameSource`], as the MuJoCo and RealSense cameras are.
//!
//! The source streams its own [`BagReader`] over the camera topics (memory: the chunks that
//! overlap in time, whatever the bag's size). `grab(t)` reads up to bag time `t0 + t` (the replay
//! backend's zero), keeps the newest colour image, depth image and calibration as raw bytes and
//! decodes only the newest pair: frames the vision task's rate skips are never decoded. A frame's
//! time is the newer of its two images' log times on the replay clock, so the same bag and rate
//! give the same frames, every run.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::record::msgs::{self, RosMessage};
use crate::record::reader::{BagMessage, BagReader, ReadOptions};
use crate::types::{CameraIntrinsics, RgbdFrame, Time};
use crate::vision::task::FrameSource;

/// Counters of a replay camera, shared with the backend's report.
#[derive(Debug, Default)]
pub struct CameraCounters {
    /// Frames handed to the vision task.
    pub frames: AtomicU64,
    /// Images that did not decode (skipped, logged at the 1st, 10th, 100th ...).
    pub decode_errors: AtomicU64,
}

/// Which topics carry the camera.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CameraTopics {
    /// Colour: `sensor_msgs/msg/Image` or `sensor_msgs/msg/CompressedImage` (empty = none).
    pub color: String,
    /// Depth: `sensor_msgs/msg/Image` (`16UC1`, `32FC1`) or a PNG `CompressedImage`.
    pub depth: String,
    /// `sensor_msgs/msg/CameraInfo` (empty = intrinsics unknown).
    pub info: String,
}

/// A bag's camera as a [`FrameSource`].
pub struct ReplayCamera {
    bag: PathBuf,
    topics: CameraTopics,
    t0: i64,
    reader: Option<BagReader>,
    ahead: Option<BagMessage>,
    color: Option<BagMessage>,
    depth: Option<BagMessage>,
    intrinsics: CameraIntrinsics,
    delivered: Option<(i64, i64)>,
    /// Topic indices in the reader: colour, depth, info.
    idx: [Option<usize>; 3],
    /// Type names of colour and depth.
    types: [String; 2],
    counters: Arc<CameraCounters>,
    rgb_tmp: Vec<u8>,
}

impl ReplayCamera {
    /// A camera over `bag`'s `topics`; bag time `t0` (ns since the epoch) is replay time 0.
    pub fn new(bag: PathBuf, topics: CameraTopics, t0: i64) -> ReplayCamera {
        ReplayCamera {
            bag,
            topics,
            t0,
            reader: None,
            ahead: None,
            color: None,
            depth: None,
            intrinsics: CameraIntrinsics::default(),
            delivered: None,
            idx: [None; 3],
            types: Default::default(),
            counters: Arc::default(),
            rgb_tmp: Vec::new(),
        }
    }

    /// The counters (shared: they stay readable after the source moved to the vision task).
    pub fn counters(&self) -> Arc<CameraCounters> {
        self.counters.clone()
    }

    fn open(&mut self) -> Result<(), String> {
        if self.reader.is_some() {
            return Ok(());
        }
        let names: Vec<String> = [&self.topics.color, &self.topics.depth, &self.topics.info]
            .into_iter()
            .filter(|t| !t.is_empty())
            .cloned()
            .collect();
        let r = BagReader::open_with(
            &self.bag,
            &ReadOptions {
                topics: Some(names),
                start: None,
            },
        )
        .map_err(|e| e.to_string())?;
        let find = |name: &str| {
            (!name.is_empty())
                .then(|| r.topic(name).map(|x| x.0))
                .flatten()
        };
        self.idx = [
            find(&self.topics.color),
            find(&self.topics.depth),
            find(&self.topics.info),
        ];
        if self.idx[0].is_none() && self.idx[1].is_none() {
            return Err(format!(
                "{}: no camera: neither `{}` nor `{}` is in the bag",
                self.bag.display(),
                self.topics.color,
                self.topics.depth
            ));
        }
        for (k, i) in self.idx[..2].iter().enumerate() {
            if let Some(i) = i {
                let ty = r.topics()[*i].type_name.clone();
                if ty != msgs::Image::TYPE_NAME && ty != msgs::CompressedImage::TYPE_NAME {
                    return Err(format!(
                        "{}: camera topic `{}` has type `{ty}`, expected `{}` or `{}`",
                        self.bag.display(),
                        r.topics()[*i].name,
                        msgs::Image::TYPE_NAME,
                        msgs::CompressedImage::TYPE_NAME
                    ));
                }
                self.types[k] = ty;
            }
        }
        self.reader = Some(r);
        Ok(())
    }

    fn decode_error(&self, what: &str, e: &str) {
        let n = self.counters.decode_errors.fetch_add(1, Ordering::Relaxed) + 1;
        if crate::repeat::logged(n) {
            tracing::warn!(bag = %self.bag.display(), times = n, "replay camera: {what}: {e}; skipped");
        }
    }
}

impl FrameSource for ReplayCamera {
    fn start(&mut self) -> Result<(), String> {
        self.open()
    }

    fn grab(&mut self, t: Time, out: &mut RgbdFrame) -> Result<bool, String> {
        self.open()?;
        let until = self.t0.saturating_add(t.0);
        loop {
            let m = match self.ahead.take() {
                Some(m) => m,
                None => match self.reader.as_mut().and_then(|r| r.next_message()) {
                    Some(m) => m,
                    None => break,
                },
            };
            if m.log_time > until {
                self.ahead = Some(m);
                break;
            }
            if Some(m.topic) == self.idx[0] {
                self.color = Some(m);
            } else if Some(m.topic) == self.idx[1] {
                self.depth = Some(m);
            } else if Some(m.topic) == self.idx[2] {
                match msgs::decode::<msgs::CameraInfo>(&m.data) {
                    Ok(ci) => {
                        self.intrinsics = CameraIntrinsics {
                            fx: ci.k[0],
                            fy: ci.k[4],
                            cx: ci.k[2],
                            cy: ci.k[5],
                        }
                    }
                    Err(e) => self.decode_error("camera_info", &e.to_string()),
                }
            }
        }
        let stamps = (
            self.color.as_ref().map_or(i64::MIN, |m| m.log_time),
            self.depth.as_ref().map_or(i64::MIN, |m| m.log_time),
        );
        // a pair needs both images when the bag has both streams
        let complete = (self.idx[0].is_none() || self.color.is_some())
            && (self.idx[1].is_none() || self.depth.is_some());
        if !complete || self.delivered == Some(stamps) {
            return Ok(false);
        }
        self.delivered = Some(stamps);
        let (mut w, mut h) = (0u32, 0u32);
        if let Some(m) = &self.color {
            match decode_color(&self.types[0], &m.data, &mut self.rgb_tmp) {
                Ok((cw, ch)) => {
                    (w, h) = (cw, ch);
                    std::mem::swap(&mut out.rgb, &mut self.rgb_tmp);
                }
                Err(e) => {
                    self.decode_error("colour image", &e);
                    return Ok(false);
                }
            }
        }
        if let Some(m) = &self.depth {
            match decode_depth(&self.types[1], &m.data, &mut out.depth) {
                Ok((dw, dh)) if self.color.is_none() || (dw, dh) == (w, h) => {
                    (w, h) = (dw, dh);
                }
                Ok((dw, dh)) => {
                    let e = format!("depth {dw}x{dh} differs from colour {w}x{h} (not registered)");
                    self.decode_error("depth image", &e);
                    return Ok(false);
                }
                Err(e) => {
                    self.decode_error("depth image", &e);
                    return Ok(false);
                }
            }
        } else {
            out.depth.clear();
            out.depth.resize((w * h) as usize, 0.0);
        }
        if self.color.is_none() {
            out.rgb.clear();
            out.rgb.resize((w * h * 3) as usize, 0);
        }
        out.t = Time(stamps.0.max(stamps.1) - self.t0);
        out.width = w;
        out.height = h;
        out.intrinsics = self.intrinsics;
        self.counters.frames.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }
}

/// Decodes a colour `Image` / `CompressedImage` into RGB8 `out`; returns width and height.
pub fn decode_color(type_name: &str, data: &[u8], out: &mut Vec<u8>) -> Result<(u32, u32), String> {
    if type_name == msgs::CompressedImage::TYPE_NAME {
        let m = msgs::decode::<msgs::CompressedImage>(data).map_err(|e| e.to_string())?;
        let img = image::load_from_memory(&m.data)
            .map_err(|e| format!("`{}` image: {e}", m.format))?
            .into_rgb8();
        let (w, h) = img.dimensions();
        out.clear();
        out.extend_from_slice(img.as_raw());
        return Ok((w, h));
    }
    let m = msgs::decode::<msgs::Image>(data).map_err(|e| e.to_string())?;
    let (w, h) = (m.width as usize, m.height as usize);
    let bpp = match m.encoding.as_str() {
        "rgb8" | "bgr8" => 3,
        "rgba8" | "bgra8" => 4,
        "mono8" | "8UC1" => 1,
        other => {
            return Err(format!(
                "colour encoding `{other}` not supported (rgb8, bgr8, rgba8, bgra8, mono8)"
            ))
        }
    };
    let step = m.step as usize;
    if w == 0 || h == 0 || step < w * bpp || m.data.len() < step * (h - 1) + w * bpp {
        return Err(format!(
            "{w}x{h} `{}` image with step {step} and {} bytes is inconsistent",
            m.encoding,
            m.data.len()
        ));
    }
    out.clear();
    out.reserve(w * h * 3);
    for row in 0..h {
        let r = &m.data[row * step..row * step + w * bpp];
        match m.encoding.as_str() {
            "rgb8" => out.extend_from_slice(r),
            "bgr8" => r
                .chunks_exact(3)
                .for_each(|p| out.extend_from_slice(&[p[2], p[1], p[0]])),
            "rgba8" => r
                .chunks_exact(4)
                .for_each(|p| out.extend_from_slice(&p[..3])),
            "bgra8" => r
                .chunks_exact(4)
                .for_each(|p| out.extend_from_slice(&[p[2], p[1], p[0]])),
            _ => r.iter().for_each(|&g| out.extend_from_slice(&[g, g, g])),
        }
    }
    Ok((w as u32, h as u32))
}

/// Decodes a depth `Image` (`16UC1` mm, `32FC1` m) or a 16-bit PNG `CompressedImage` (mm) into
/// metres in `out` (0 = invalid); returns width and height.
pub fn decode_depth(
    type_name: &str,
    data: &[u8],
    out: &mut Vec<f32>,
) -> Result<(u32, u32), String> {
    if type_name == msgs::CompressedImage::TYPE_NAME {
        let m = msgs::decode::<msgs::CompressedImage>(data).map_err(|e| e.to_string())?;
        let img = image::load_from_memory(&m.data)
            .map_err(|e| format!("`{}` depth image: {e}", m.format))?;
        let img = match img {
            image::DynamicImage::ImageLuma16(i) => i,
            other => {
                return Err(format!(
                    "compressed depth must be a 16-bit grey PNG (mm), got {:?}",
                    other.color()
                ))
            }
        };
        let (w, h) = img.dimensions();
        out.clear();
        out.extend(img.as_raw().iter().map(|&mm| mm as f32 * 1e-3));
        return Ok((w, h));
    }
    let m = msgs::decode::<msgs::Image>(data).map_err(|e| e.to_string())?;
    let (w, h) = (m.width as usize, m.height as usize);
    let (bpp, mm) = match m.encoding.as_str() {
        "16UC1" | "mono16" => (2, true),
        "32FC1" => (4, false),
        other => {
            return Err(format!(
                "depth encoding `{other}` not supported (16UC1, 32FC1)"
            ))
        }
    };
    let step = m.step as usize;
    if w == 0 || h == 0 || step < w * bpp || m.data.len() < step * (h - 1) + w * bpp {
        return Err(format!(
            "{w}x{h} `{}` image with step {step} and {} bytes is inconsistent",
            m.encoding,
            m.data.len()
        ));
    }
    let be = m.is_bigendian != 0;
    out.clear();
    out.reserve(w * h);
    for row in 0..h {
        let r = &m.data[row * step..row * step + w * bpp];
        if mm {
            out.extend(r.chunks_exact(2).map(|b| {
                let v = if be {
                    u16::from_be_bytes([b[0], b[1]])
                } else {
                    u16::from_le_bytes([b[0], b[1]])
                };
                v as f32 * 1e-3
            }));
        } else {
            out.extend(r.chunks_exact(4).map(|b| {
                let a = [b[0], b[1], b[2], b[3]];
                let v = if be {
                    f32::from_be_bytes(a)
                } else {
                    f32::from_le_bytes(a)
                };
                if v.is_finite() && v > 0.0 {
                    v
                } else {
                    0.0
                }
            }));
        }
    }
    Ok((w as u32, h as u32))
}
