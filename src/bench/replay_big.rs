//! `sattva bench replay --big`: peak memory of a replay with vision over a robot-log-sized bag.
//!
//! A bag of `--gigabytes` (default 10) is generated streaming (640x480 RGB `rgb8` + depth
//! `16UC1` at 30 Hz with `CameraInfo`, IMU at 200 Hz, 12-joint JointState at 100 Hz; the camera
//! pans over a textured scene so vision has features), then `sattva replay` runs on it in a child
//! process with `vision.enabled: true`; its peak resident set (`getrusage(RUSAGE_CHILDREN)`,
//! what `/usr/bin/time -v` prints as "Maximum resident set size") is the figure. The bag is
//! deleted afterwards unless `--keep`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::replay::{joint_sample, periodic, BenchError};
use crate::record::msgs;
use crate::record::{BagWriter, RecordError, WriterOptions};

/// Figures of one run.
#[derive(Clone, Debug)]
pub struct BigReplayReport {
    /// The bag.
    pub bag: PathBuf,
    /// Bytes on disk.
    pub bytes: u64,
    /// Messages written.
    pub messages: u64,
    /// Log-time length, s.
    pub bag_seconds: f64,
    /// Wall time to generate it, s.
    pub generate_s: f64,
    /// Wall time of the replay, s.
    pub replay_s: f64,
    /// Peak RSS of the replay process, bytes.
    pub peak_rss: u64,
    /// The replay's summary lines.
    pub summary: String,
}

impl fmt::Display for BigReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench replay --big: {} ({:.2} GB, {} messages, {:.1} s of 640x480 RGB-D 30 Hz + IMU 200 Hz + joints 100 Hz)",
            self.bag.display(),
            self.bytes as f64 / 1e9,
            self.messages,
            self.bag_seconds
        )?;
        writeln!(f, "  generated in {:.1} s", self.generate_s)?;
        writeln!(
            f,
            "  sattva replay with vision: {:.1} s wall, peak RSS {:.1} MB (goal < 300 MB)",
            self.replay_s,
            self.peak_rss as f64 / 1e6
        )?;
        for l in self.summary.lines() {
            writeln!(f, "  | {l}")?;
        }
        Ok(())
    }
}

const W: usize = 640;
const H: usize = 480;

/// Writes the camera bag of about `bytes` into `dir` (streaming: memory is one frame).
pub fn write_camera_bag(dir: &Path, bytes: u64) -> Result<(u64, f64), RecordError> {
    let mut w = BagWriter::create(
        dir,
        &WriterOptions {
            zstd: false,
            chunk_size: 4 << 20,
        },
    )?;
    let imu_t = w.add_topic_for::<msgs::Imu>("/imu/data")?;
    let js_t = w.add_topic_for::<msgs::JointState>("/joint_states")?;
    let rgb_t = w.add_topic_for::<msgs::Image>("/camera/color/image_raw")?;
    let dep_t = w.add_topic_for::<msgs::Image>("/camera/depth/image_rect_raw")?;
    let info_t = w.add_topic_for::<msgs::CameraInfo>("/camera/color/camera_info")?;
    let t0: i64 = 1_700_000_000_000_000_000;
    // a scene 4 frames wide of deterministic boxes; the camera pans 3 px per frame
    let sw = 4 * W;
    let mut scene = vec![0u8; sw * H * 3];
    let mut depth = vec![0u16; sw * H];
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for (i, d) in depth.iter_mut().enumerate() {
        *d = 800 + ((i % sw) % 97) as u16 * 20;
    }
    for _ in 0..600 {
        let (x, y) = (
            (rnd() % (sw as u64 - 40)) as usize,
            (rnd() % (H as u64 - 40)) as usize,
        );
        let (bw, bh) = (8 + (rnd() % 32) as usize, 8 + (rnd() % 32) as usize);
        let c = [rnd() as u8, rnd() as u8, rnd() as u8];
        for yy in y..y + bh {
            for xx in x..x + bw {
                scene[(yy * sw + xx) * 3..(yy * sw + xx) * 3 + 3].copy_from_slice(&c);
            }
        }
    }
    let per_frame = (W * H * 5) as u64;
    let frames = (bytes / per_frame).max(1) as i64;
    let frame_ns = 33_333_333i64;
    let end = frames * frame_ns;
    let mut rgb = msgs::Image {
        height: H as u32,
        width: W as u32,
        encoding: "rgb8".into(),
        step: (W * 3) as u32,
        data: vec![0; W * H * 3],
        ..Default::default()
    };
    let mut dep = msgs::Image {
        height: H as u32,
        width: W as u32,
        encoding: "16UC1".into(),
        step: (W * 2) as u32,
        data: vec![0; W * H * 2],
        ..Default::default()
    };
    let mut info = msgs::CameraInfo {
        height: H as u32,
        width: W as u32,
        distortion_model: "plumb_bob".into(),
        d: vec![0.0; 5],
        k: [600.0, 0.0, 320.0, 0.0, 600.0, 240.0, 0.0, 0.0, 1.0],
        ..Default::default()
    };
    let mut imu = msgs::Imu::default();
    let mut js = msgs::JointState {
        name: (0..12).map(|i| format!("joint_{i}")).collect(),
        ..Default::default()
    };
    // three periodic streams merged in time order: IMU 5 ms, joints 10 ms, camera 33.3 ms
    let mut frame = 0usize;
    for (k, t) in periodic([5_000_000, 10_000_000, frame_ns], [0, 0, 1_000_000], end) {
        let stamp = msgs::Time::from_nanos(t0 + t);
        let x = t as f64 * 1e-9;
        match k {
            0 => {
                imu.header.stamp = stamp;
                imu.angular_velocity = msgs::Vector3 {
                    x: 0.0,
                    y: 0.0,
                    z: 0.1 * x.sin(),
                };
                imu.linear_acceleration = msgs::Vector3 {
                    x: 0.0,
                    y: 0.0,
                    z: 9.81,
                };
                w.write(imu_t, t0 + t, &imu)?;
            }
            1 => {
                joint_sample(&mut js, stamp, x);
                w.write(js_t, t0 + t, &js)?;
            }
            _ => {
                let off = (3 * frame) % (sw - W);
                for y in 0..H {
                    let src = &scene[(y * sw + off) * 3..(y * sw + off + W) * 3];
                    rgb.data[y * W * 3..(y + 1) * W * 3].copy_from_slice(src);
                    for xx in 0..W {
                        let d = depth[y * sw + off + xx].to_le_bytes();
                        dep.data[(y * W + xx) * 2..(y * W + xx) * 2 + 2].copy_from_slice(&d);
                    }
                }
                rgb.header.stamp = stamp;
                dep.header.stamp = stamp;
                info.header.stamp = stamp;
                w.write(rgb_t, t0 + t, &rgb)?;
                w.write(dep_t, t0 + t, &dep)?;
                w.write(info_t, t0 + t, &info)?;
                frame += 1;
            }
        }
    }
    let sum = w.finish()?;
    Ok((sum.message_count, end as f64 * 1e-9))
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Generates the bag under `dir` (default `target/tmp`), replays it with vision in a child
/// process, measures its peak RSS, deletes the bag unless `keep`.
pub fn bench_replay_big(
    dir: Option<&Path>,
    gigabytes: f64,
    keep: bool,
) -> Result<BigReplayReport, BenchError> {
    let io = |message: String| BenchError::Python {
        python: "sattva replay (child)".into(),
        message,
    };
    let base = dir.map_or_else(|| PathBuf::from("target/tmp"), Path::to_path_buf);
    std::fs::create_dir_all(&base).map_err(|e| io(format!("{}: {e}", base.display())))?;
    let bag = base.join(format!("sattva-big-{}", std::process::id()));
    let t = Instant::now();
    let written = write_camera_bag(&bag, (gigabytes * 1e9) as u64);
    let generate_s = t.elapsed().as_secs_f64();
    let cleanup = |bag: &Path| {
        if !keep {
            let _ = std::fs::remove_dir_all(bag);
        }
    };
    let (messages, bag_seconds) = match written {
        Ok(x) => x,
        Err(e) => {
            cleanup(&bag);
            return Err(e.into());
        }
    };
    let bytes = dir_bytes(&bag);
    let cfg = base.join(format!("sattva-big-{}.yaml", std::process::id()));
    let yaml = "sattva:\n  ros__parameters:\n    backend: replay\n    seed: 7\n    control:\n      period_ns: 2000000\n    \
                vision:\n      enabled: true\n      rate_hz: 10.0\n";
    let run = std::fs::write(&cfg, yaml)
        .map_err(|e| io(format!("{}: {e}", cfg.display())))
        .and_then(|()| {
            let exe = std::env::current_exe().map_err(|e| io(e.to_string()))?;
            let t = Instant::now();
            let out = Command::new(exe)
                .arg("replay")
                .arg(&bag)
                .arg("-c")
                .arg(&cfg)
                .output()
                .map_err(|e| io(e.to_string()))?;
            let replay_s = t.elapsed().as_secs_f64();
            if !out.status.success() {
                return Err(io(String::from_utf8_lossy(&out.stderr).into_owned()));
            }
            Ok((replay_s, String::from_utf8_lossy(&out.stdout).into_owned()))
        });
    let _ = std::fs::remove_file(&cfg);
    cleanup(&bag);
    let (replay_s, summary) = run?;
    Ok(BigReplayReport {
        bag,
        bytes,
        messages,
        bag_seconds,
        generate_s,
        replay_s,
        peak_rss: children_max_rss(),
        summary,
    })
}

/// Largest peak RSS of any waited-for child, bytes.
fn children_max_rss() -> u64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer, which points at one we own; on
    // failure the zeroed value stays (and reads as 0).
    #[allow(unsafe_code)]
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr());
        ru.assume_init()
    };
    ru.ru_maxrss.max(0) as u64 * 1024
}
