//! Depth cleanup, hand-written: raw depth -> metres with invalid pixels masked (0), a 3x3 median
//! and hole filling from the farthest valid neighbour. The OpenCV path (`cv::clean_depth`)
//! computes the same thing; `sattva bench vision` times both.
//!
//! Steps, in order:
//! 1. metres = raw * depth units; non-finite, zero, nearer than `min_m` or farther than `max_m`
//!    -> 0 (invalid);
//! 2. `median`: every pixel becomes the median of its 3x3 neighbourhood (invalid pixels count as
//!    0, as in OpenCV's `medianBlur`; border pixels replicate the edge): speckle goes, a single
//!    missing pixel among valid ones is filled, thin invalid lines stay invalid;
//! 3. `hole_fill_passes` times: every invalid pixel with a valid 3x3 neighbour takes the largest
//!    (farthest) neighbour, i.e. a grey dilation applied to holes only.
//!
//! Allocation-free: the caller owns `out` and `scratch` (both `width * height`).

use super::DepthCleanupConfig;
use crate::fusion::DepthPixels;

/// Cleans `depth` into `out` (metres, 0 = invalid). `out` and `scratch` must hold
/// `width * height` values (the stage checks the frame beforehand).
pub fn clean_depth(
    cfg: &DepthCleanupConfig,
    width: usize,
    height: usize,
    depth: DepthPixels<'_>,
    out: &mut [f32],
    scratch: &mut [f32],
) {
    let n = width * height;
    if out.len() < n || scratch.len() < n || width == 0 || height == 0 {
        return;
    }
    let (lo, hi) = (cfg.min_m, cfg.max_m);
    let keep = |m: f32| {
        if m.is_finite() && m > lo && m <= hi && m > 0.0 {
            m
        } else {
            0.0
        }
    };
    match depth {
        DepthPixels::F32(d) => {
            for (o, &v) in out[..n].iter_mut().zip(d) {
                *o = keep(v);
            }
        }
        DepthPixels::U16 { data, depth_units } => {
            for (o, &v) in out[..n].iter_mut().zip(data) {
                *o = keep(v as f32 * depth_units);
            }
        }
    }
    if cfg.median {
        median3(width, height, &out[..n], &mut scratch[..n]);
        out[..n].copy_from_slice(&scratch[..n]);
    }
    for _ in 0..cfg.hole_fill_passes {
        if !fill_holes(width, height, &out[..n], &mut scratch[..n]) {
            break;
        }
        out[..n].copy_from_slice(&scratch[..n]);
    }
}

/// 3x3 median with replicated borders.
fn median3(w: usize, h: usize, src: &[f32], dst: &mut [f32]) {
    for y in 0..h {
        let rows = [y.saturating_sub(1), y, (y + 1).min(h - 1)];
        for x in 0..w {
            let cols = [x.saturating_sub(1), x, (x + 1).min(w - 1)];
            let mut v = [0.0f32; 9];
            let mut k = 0;
            for r in rows {
                let row = &src[r * w..r * w + w];
                for c in cols {
                    v[k] = row[c];
                    k += 1;
                }
            }
            dst[y * w + x] = median9(&mut v);
        }
    }
}

/// Median of 9 values: the classic 19-exchange network (Paeth / Devillard).
fn median9(p: &mut [f32; 9]) -> f32 {
    #[inline(always)]
    fn s(p: &mut [f32; 9], a: usize, b: usize) {
        if p[a] > p[b] {
            p.swap(a, b);
        }
    }
    s(p, 1, 2);
    s(p, 4, 5);
    s(p, 7, 8);
    s(p, 0, 1);
    s(p, 3, 4);
    s(p, 6, 7);
    s(p, 1, 2);
    s(p, 4, 5);
    s(p, 7, 8);
    s(p, 0, 3);
    s(p, 5, 8);
    s(p, 4, 7);
    s(p, 3, 6);
    s(p, 1, 4);
    s(p, 2, 5);
    s(p, 4, 7);
    s(p, 4, 2);
    s(p, 6, 4);
    s(p, 4, 2);
    p[4]
}

/// One hole-filling pass; returns false when there was no hole.
fn fill_holes(w: usize, h: usize, src: &[f32], dst: &mut [f32]) -> bool {
    let mut any = false;
    for y in 0..h {
        let rows = [y.saturating_sub(1), y, (y + 1).min(h - 1)];
        for x in 0..w {
            let i = y * w + x;
            let v = src[i];
            if v > 0.0 {
                dst[i] = v;
                continue;
            }
            any = true;
            let cols = [x.saturating_sub(1), x, (x + 1).min(w - 1)];
            let mut m = 0.0f32;
            for r in rows {
                for c in cols {
                    m = m.max(src[r * w + c]);
                }
            }
            dst[i] = m;
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median9_is_the_median() {
        let mut v = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0];
        assert_eq!(median9(&mut v), 5.0);
        let mut v = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(median9(&mut v), 1.0);
    }

    #[test]
    fn masks_converts_and_fills() {
        let cfg = DepthCleanupConfig {
            min_m: 0.1,
            max_m: 5.0,
            median: false,
            hole_fill_passes: 1,
        };
        // 4x3 image in millimetres: one hole (0), one too far (9000)
        let raw: [u16; 12] = [
            1000, 1000, 2000, 2000, 1000, 0, 2000, 9000, 1000, 1000, 2000, 2000,
        ];
        let (mut out, mut s) = ([0.0f32; 12], [0.0f32; 12]);
        let d = DepthPixels::U16 {
            data: &raw,
            depth_units: 0.001,
        };
        clean_depth(&cfg, 4, 3, d, &mut out, &mut s);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[5], 2.0, "hole takes the farthest neighbour");
        assert_eq!(out[7], 2.0, "out-of-range pixel masked, then filled");
        let cfg = DepthCleanupConfig {
            hole_fill_passes: 0,
            ..cfg
        };
        clean_depth(&cfg, 4, 3, d, &mut out, &mut s);
        assert_eq!((out[5], out[7]), (0.0, 0.0));
    }
}
