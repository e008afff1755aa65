//! `sattva bench vision`: milliseconds per 640x480 frame for each step, hand-written Rust and
//! OpenCV side by side in the same run (OpenCV rows only in builds with `--features opencv`).
//!
//! Frames are synthetic but realistic for the steps: a textured scene of random boxes (edges
//! and corners for ORB), depth in millimetres (`u16`, RealSense units) with 5 % invalid pixels
//! and speckle, and consecutive frames shifted by a small camera rotation.

use std::fmt;
use std::time::Instant;

use rand::{Rng, SeedableRng};

use crate::fusion::DepthPixels;
use crate::vision::{cleanup, descriptor, DepthCleanupConfig, Descriptor};

/// One frame of the benchmark.
pub struct SynthFrame {
    /// RGB.
    pub rgb: Vec<u8>,
    /// Depth, mm.
    pub depth_mm: Vec<u16>,
}

/// A synthetic scene of `boxes` random boxes, seen with a horizontal pixel `shift`.
pub fn synth_frame(w: usize, h: usize, shift: i64, seed: u64) -> SynthFrame {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rgb = vec![0u8; w * h * 3];
    let mut depth = vec![3000u16; w * h];
    for (i, p) in rgb.chunks_exact_mut(3).enumerate() {
        let (x, y) = (i % w, i / w);
        p.copy_from_slice(&[(40 + x % 7) as u8, (60 + y % 5) as u8, 80]);
    }
    for _ in 0..120 {
        let (bw, bh) = (rng.gen_range(8..60i64), rng.gen_range(8..60i64));
        let (bx, by) = (
            rng.gen_range(-60..w as i64 + 60),
            rng.gen_range(0..h as i64),
        );
        let c = [rng.gen::<u8>(), rng.gen::<u8>(), rng.gen::<u8>()];
        let d = rng.gen_range(500..2900u16);
        for y in by.max(0)..(by + bh).min(h as i64) {
            for x in (bx + shift).max(0)..(bx + bw + shift).min(w as i64) {
                let i = y as usize * w + x as usize;
                rgb[3 * i..3 * i + 3].copy_from_slice(&c);
                depth[i] = d;
            }
        }
    }
    for v in depth.iter_mut() {
        let r: f32 = rng.gen();
        if r < 0.05 {
            *v = 0; // no data
        } else if r < 0.07 {
            *v = v.saturating_add(rng.gen_range(0..400)); // speckle
        }
    }
    SynthFrame {
        rgb,
        depth_mm: depth,
    }
}

/// Result of `sattva bench vision`.
#[derive(Clone, Debug, Default)]
pub struct VisionBench {
    /// Frame size.
    pub width: usize,
    /// Frame size.
    pub height: usize,
    /// Frames per measurement.
    pub frames: usize,
    /// (step, implementation, median ms per frame, p90 ms).
    pub rows: Vec<(&'static str, &'static str, f64, f64)>,
    /// Max absolute difference between the two cleanup outputs, m (None without OpenCV).
    pub cleanup_max_diff: Option<f32>,
    /// Max absolute difference between the two descriptors (None without OpenCV).
    pub descriptor_max_diff: Option<f32>,
    /// Rotations accepted / attempted by the ORB step.
    pub rotations: (u64, u64),
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    (v[v.len() / 2], v[(v.len() * 9 / 10).min(v.len() - 1)])
}

fn time_each(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        f(i);
        v.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    stats(v)
}

/// Runs the benchmark on `frames` synthetic `w x h` frames.
pub fn bench_vision(
    w: usize,
    h: usize,
    frames: usize,
) -> Result<VisionBench, crate::vision::VisionError> {
    let frames = frames.max(2);
    let set: Vec<SynthFrame> = (0..frames)
        .map(|i| synth_frame(w, h, 3 * i as i64, 11))
        .collect();
    let cfg = DepthCleanupConfig::default();
    let n = w * h;
    let mut out = VisionBench {
        width: w,
        height: h,
        frames,
        ..Default::default()
    };
    let (mut clean, mut scratch) = (vec![0.0f32; n], vec![0.0f32; n]);
    fn units(f: &SynthFrame) -> DepthPixels<'_> {
        DepthPixels::U16 {
            data: &f.depth_mm,
            depth_units: 0.001,
        }
    }
    let (m, p) = time_each(frames, |i| {
        cleanup::clean_depth(&cfg, w, h, units(&set[i]), &mut clean, &mut scratch)
    });
    out.rows.push(("depth cleanup", "rust", m, p));
    let mut gray = vec![0u8; n];
    let mut d_rust = Descriptor::default();
    let (m, p) = time_each(frames, |i| {
        descriptor::describe(w, h, &set[i].rgb, &clean, cfg.max_m, &mut gray, &mut d_rust)
    });
    out.rows.push(("descriptor", "rust", m, p));
    #[cfg(feature = "opencv")]
    {
        use crate::vision::cv;
        let mut clean_cv = vec![0.0f32; n];
        let mut err = None;
        let (m, p) = time_each(frames, |i| {
            if let Err(e) = cv::clean_depth(&cfg, w, h, units(&set[i]), &mut clean_cv) {
                err = Some(e);
            }
        });
        if let Some(e) = err.take() {
            return Err(e);
        }
        out.rows.push(("depth cleanup", "opencv", m, p));
        // both paths on the last frame
        cleanup::clean_depth(
            &cfg,
            w,
            h,
            units(&set[frames - 1]),
            &mut clean,
            &mut scratch,
        );
        out.cleanup_max_diff = Some(
            clean
                .iter()
                .zip(&clean_cv)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max),
        );
        let mut d_cv = Descriptor::default();
        let (m, p) = time_each(frames, |i| {
            if let Err(e) = cv::describe(w, h, &set[i].rgb, &clean, cfg.max_m, &mut d_cv) {
                err = Some(e);
            }
        });
        if let Some(e) = err.take() {
            return Err(e);
        }
        out.rows.push(("descriptor", "opencv", m, p));
        descriptor::describe(
            w,
            h,
            &set[frames - 1].rgb,
            &clean,
            cfg.max_m,
            &mut gray,
            &mut d_rust,
        );
        out.descriptor_max_diff = Some(
            d_rust
                .0
                .iter()
                .zip(&d_cv.0)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max),
        );
        let hcfg = crate::vision::HeadingConfig {
            enabled: true,
            ..crate::vision::HeadingConfig::default()
        };
        let mut st = cv::CvState::new(&hcfg)?;
        let aid = crate::vision::heading::HeadingAid::new(&hcfg);
        let k = crate::types::CameraIntrinsics {
            fx: 600.0,
            fy: 600.0,
            cx: w as f64 / 2.0,
            cy: h as f64 / 2.0,
        };
        let mut acc = 0u64;
        let t = |i: usize| crate::types::Time(i as i64 * 33_000_000);
        let (m, p) = time_each(frames, |i| {
            if let Ok(hm) = st.track(w, h, &set[i].rgb, &hcfg) {
                if aid
                    .finish(t(i.saturating_sub(1)), t(i), &hm, &k, &st.inliers)
                    .is_ok()
                {
                    acc += 1;
                }
            }
        });
        out.rows.push(("ORB + homography rotation", "opencv", m, p));
        out.rotations = (acc, frames as u64 - 1);
    }
    Ok(out)
}

impl fmt::Display for VisionBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "bench vision: {}x{} frames, {} frames per step, ms per frame (median, p90)",
            self.width, self.height, self.frames
        )?;
        writeln!(
            f,
            "  {:<28} {:<8} {:>9} {:>9}",
            "step", "impl", "median", "p90"
        )?;
        for (s, i, m, p) in &self.rows {
            writeln!(f, "  {s:<28} {i:<8} {m:>9.3} {p:>9.3}")?;
        }
        match (self.cleanup_max_diff, self.descriptor_max_diff) {
            (Some(c), Some(d)) => {
                writeln!(
                    f,
                    "  rust vs opencv: cleanup max |diff| {c:.2e} m, descriptor max |diff| {d:.2e}"
                )?;
                write!(
                    f,
                    "  ORB rotations accepted: {}/{} frame pairs",
                    self.rotations.0, self.rotations.1
                )
            }
            _ => write!(f, "  (OpenCV rows need a build with `--features opencv`)"),
        }
    }
}
