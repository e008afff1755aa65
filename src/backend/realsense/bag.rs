//! Message counts of a ROS 1 bag (format 2.0), the container of librealsense `.bag` recordings.
//!
//! Playback needs to know when every recorded frame has been *delivered*: librealsense reports
//! the end of a recording when its reader reaches the end of the file, while frames may still
//! wait in its per-sensor dispatch queues (stopping then would lose them). The bag's index
//! (connection records + chunk-info records, which count messages per connection and chunk)
//! gives the exact number of frames per stream without reading any frame data.

use std::collections::BTreeMap;
use std::path::Path;

/// Errors reading a bag's index.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a ROS 1 bag v2.0, or truncated.
    #[error("{file}: not a readable ROS bag v2.0: {message}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong, with the byte offset.
        message: String,
    },
}

fn fields(h: &[u8]) -> Option<BTreeMap<&[u8], &[u8]>> {
    let mut m = BTreeMap::new();
    let mut i = 0;
    while i < h.len() {
        let l = u32::from_le_bytes(h.get(i..i + 4)?.try_into().ok()?) as usize;
        i += 4;
        let kv = h.get(i..i.checked_add(l)?)?;
        i += l;
        let eq = kv.iter().position(|&b| b == b'=')?;
        m.insert(&kv[..eq], &kv[eq + 1..]);
    }
    Some(m)
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Number of messages per topic in the bag at `path` (from its index; reads only headers).
pub fn message_counts(path: &Path) -> Result<BTreeMap<String, u64>, BagError> {
    let file = path.display().to_string();
    let data = std::fs::read(path).map_err(|source| BagError::Io {
        file: file.clone(),
        source,
    })?;
    let bad = |message: String| BagError::Format {
        file: file.clone(),
        message,
    };
    const MAGIC: &[u8] = b"#ROSBAG V2.0\n";
    if !data.starts_with(MAGIC) {
        return Err(bad("missing the `#ROSBAG V2.0` magic".into()));
    }
    let mut topics: BTreeMap<u32, String> = BTreeMap::new();
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    let mut pos = MAGIC.len();
    while pos < data.len() {
        let rec = pos;
        let trunc = || bad(format!("record at byte {rec} truncated"));
        let hl = u32_at(&data, pos).ok_or_else(trunc)? as usize;
        let h = data.get(pos + 4..pos + 4 + hl).ok_or_else(trunc)?;
        pos += 4 + hl;
        let dl = u32_at(&data, pos).ok_or_else(trunc)? as usize;
        let d = data.get(pos + 4..pos + 4 + dl).ok_or_else(trunc)?;
        pos += 4 + dl;
        let f = fields(h).ok_or_else(|| bad(format!("record at byte {rec}: bad header")))?;
        let op = f.get(&b"op"[..]).and_then(|o| o.first().copied());
        match op {
            // connection: conn id + topic
            Some(0x07) => {
                let conn = f.get(&b"conn"[..]).and_then(|c| u32_at(c, 0));
                let topic = f.get(&b"topic"[..]);
                if let (Some(c), Some(t)) = (conn, topic) {
                    topics.insert(c, String::from_utf8_lossy(t).into_owned());
                }
            }
            // chunk info: data = (conn, count) pairs
            Some(0x06) => {
                let n = f.get(&b"count"[..]).and_then(|c| u32_at(c, 0)).unwrap_or(0) as usize;
                for k in 0..n {
                    let (Some(c), Some(m)) = (u32_at(d, 8 * k), u32_at(d, 8 * k + 4)) else {
                        return Err(bad(format!("chunk info at byte {rec} truncated")));
                    };
                    *counts.entry(c).or_default() += m as u64;
                }
            }
            _ => {}
        }
    }
    Ok(counts
        .into_iter()
        .map(|(c, n)| {
            (
                topics.get(&c).cloned().unwrap_or_else(|| format!("#{c}")),
                n,
            )
        })
        .collect())
}

/// Frames of one stream in a librealsense recording (`Gyro`, `Accel`, `Depth`, `Color`), summed
/// over sensors and stream indices.
pub fn stream_frames(counts: &BTreeMap<String, u64>, stream: &str) -> u64 {
    counts
        .iter()
        .filter(|(t, _)| {
            t.split('/').any(|part| {
                part.strip_prefix(stream)
                    .is_some_and(|rest| rest.starts_with('_'))
            }) && (t.ends_with("/imu/data") || t.ends_with("/image/data"))
        })
        .map(|(_, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(header: &[(&str, &[u8])], data: &[u8]) -> Vec<u8> {
        let mut h = Vec::new();
        for (k, v) in header {
            let kv = [k.as_bytes(), b"=", v].concat();
            h.extend((kv.len() as u32).to_le_bytes());
            h.extend(kv);
        }
        let mut r = Vec::new();
        r.extend((h.len() as u32).to_le_bytes());
        r.extend(h);
        r.extend((data.len() as u32).to_le_bytes());
        r.extend(data);
        r
    }

    #[test]
    fn counts_from_the_index() {
        let mut b = b"#ROSBAG V2.0\n".to_vec();
        b.extend(rec(&[("op", &[0x03])], &[0; 8]));
        let t = b"/device_0/sensor_2/Gyro_0/imu/data";
        b.extend(rec(
            &[("op", &[0x07]), ("conn", &1u32.to_le_bytes()), ("topic", t)],
            b"",
        ));
        let t = b"/device_0/sensor_0/Depth_0/image/data";
        b.extend(rec(
            &[("op", &[0x07]), ("conn", &2u32.to_le_bytes()), ("topic", t)],
            b"",
        ));
        let pairs = [1u32, 7, 2, 3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>();
        b.extend(rec(
            &[("op", &[0x06]), ("count", &2u32.to_le_bytes())],
            &pairs,
        ));
        let pairs = [1u32, 5]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>();
        b.extend(rec(
            &[("op", &[0x06]), ("count", &1u32.to_le_bytes())],
            &pairs,
        ));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bag");
        std::fs::write(&p, &b).unwrap();
        let c = message_counts(&p).unwrap();
        assert_eq!(stream_frames(&c, "Gyro"), 12);
        assert_eq!(stream_frames(&c, "Depth"), 3);
        assert_eq!(stream_frames(&c, "Color"), 0);
        // truncated and foreign files are clear errors, never panics
        std::fs::write(&p, &b[..b.len() - 3]).unwrap();
        let e = message_counts(&p).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.contains("x.bag"), "{e}");
        std::fs::write(&p, b"hello").unwrap();
        assert!(message_counts(&p)
            .unwrap_err()
            .to_string()
            .contains("magic"));
    }
}
