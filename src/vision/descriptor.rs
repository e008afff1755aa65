//! The visual descriptor: a fixed-size summary of one RGB-D frame for the experience encoder.
//!
//! Layout ([`DESCRIPTOR_LEN`] = 160 floats), the image cut into a `GRID_ROWS x GRID_COLS` grid:
//! * `0..32`   depth grid: mean valid depth per cell, m (`max_m` when a cell has none);
//! * `32..128` colour grid: mean R, G, B per cell in `[0, 1]` (cell-major: r, g, b);
//! * `128..160` gradient histograms: per image quadrant (2 x 2), 8 orientation bins of the
//!   3x3-Sobel luminance gradient, weighted by magnitude, normalised by the quadrant's pixels
//!   (so a black or flat frame gives zeros, and edges count where they are).
//!
//! What moves in the image (an object pushed left vs right) moves mass between colour and
//! depth cells; texture and edges change the gradient statistics. Cells split the image by
//! integer division (`x * GRID_COLS / width`), identically in the OpenCV path.

/// Descriptor grid rows.
pub const GRID_ROWS: usize = 4;
/// Descriptor grid columns.
pub const GRID_COLS: usize = 8;
/// Orientation bins per quadrant.
const GRAD_BINS: usize = 8;
/// Offset of the colour grid.
const COLOUR_OFFSET: usize = GRID_ROWS * GRID_COLS;
/// Offset of the gradient histograms.
pub const GRADIENT_OFFSET: usize = COLOUR_OFFSET + 3 * GRID_ROWS * GRID_COLS;
/// Length of the descriptor.
pub const DESCRIPTOR_LEN: usize = GRADIENT_OFFSET + 4 * GRAD_BINS;

/// A visual descriptor (see the module docs for the layout).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Descriptor(pub [f32; DESCRIPTOR_LEN]);

impl Default for Descriptor {
    fn default() -> Self {
        Descriptor([0.0; DESCRIPTOR_LEN])
    }
}

impl Descriptor {
    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

/// ITU-R BT.601 luminance in 8 bit (OpenCV's `RGB2GRAY` fixed-point coefficients).
#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((r as u32 * 4899 + g as u32 * 9617 + b as u32 * 1868 + 8192) >> 14) as u8
}

/// Cell index of pixel column `x` / row `y`.
#[inline]
pub fn cell_of(x: usize, y: usize, w: usize, h: usize) -> usize {
    (y * GRID_ROWS / h) * GRID_COLS + x * GRID_COLS / w
}

/// Orientation bin of a gradient: the angle `atan2(gy, gx)` in `[0, 360)` deg split into
/// [`GRAD_BINS`] = 8 bins of 45 deg (bin `k` = `[45 k, 45 (k + 1))`), found by signs and
/// comparisons (no `atan2`: this runs once per pixel).
#[inline]
fn grad_bin(gx: f32, gy: f32) -> usize {
    let (ax, ay) = (gx.abs(), gy.abs());
    if gy > 0.0 || (gy == 0.0 && gx > 0.0) {
        if gx > 0.0 {
            if ay < ax {
                0
            } else {
                1
            }
        } else if ay > ax {
            2
        } else {
            3
        }
    } else if gx < 0.0 {
        if ay < ax {
            4
        } else {
            5
        }
    } else if ay > ax {
        6
    } else {
        7
    }
}

/// Fills the depth and colour grids from cleaned depth (m, 0 = invalid) and RGB.
pub fn grids(w: usize, h: usize, rgb: &[u8], depth_m: &[f32], max_m: f32, out: &mut Descriptor) {
    let cells = GRID_ROWS * GRID_COLS;
    let mut dsum = [0.0f64; GRID_ROWS * GRID_COLS];
    let mut dn = [0u32; GRID_ROWS * GRID_COLS];
    let mut csum = [[0u64; 3]; GRID_ROWS * GRID_COLS];
    let mut cn = [0u32; GRID_ROWS * GRID_COLS];
    let mut col_cell = [0usize; 4096];
    let wc = w.min(col_cell.len());
    for (x, c) in col_cell[..wc].iter_mut().enumerate() {
        *c = x * GRID_COLS / w;
    }
    for y in 0..h {
        let row = (y * GRID_ROWS / h) * GRID_COLS;
        let d = &depth_m[y * w..y * w + w];
        let c = &rgb[3 * y * w..3 * (y * w + w)];
        for x in 0..w {
            let cell = row
                + if x < wc {
                    col_cell[x]
                } else {
                    x * GRID_COLS / w
                };
            let v = d[x];
            if v > 0.0 {
                dsum[cell] += v as f64;
                dn[cell] += 1;
            }
            let s = &mut csum[cell];
            s[0] += c[3 * x] as u64;
            s[1] += c[3 * x + 1] as u64;
            s[2] += c[3 * x + 2] as u64;
            cn[cell] += 1;
        }
    }
    for i in 0..cells {
        out.0[i] = if dn[i] > 0 {
            (dsum[i] / dn[i] as f64) as f32
        } else {
            max_m
        };
        for (k, &v) in csum[i].iter().enumerate() {
            out.0[COLOUR_OFFSET + 3 * i + k] = (v as f64 / (255.0 * cn[i].max(1) as f64)) as f32;
        }
    }
}

/// Quadrant (0..4) of a pixel.
#[inline]
pub fn quadrant(x: usize, y: usize, w: usize, h: usize) -> usize {
    (y * 2 / h) * 2 + x * 2 / w
}

/// Adds one gradient sample to the histograms.
#[inline]
pub fn add_gradient(out: &mut Descriptor, quad: usize, gx: f32, gy: f32) {
    let m = (gx * gx + gy * gy).sqrt();
    if m > 0.0 {
        out.0[GRADIENT_OFFSET + quad * GRAD_BINS + grad_bin(gx, gy)] += m;
    }
}

/// Normalises the histograms by the quadrants' pixel counts (and 4 * 255, the largest Sobel
/// response of an 8-bit step, so values stay near `[0, 1]`).
pub fn normalise_gradients(w: usize, h: usize, out: &mut Descriptor) {
    for q in 0..4 {
        let qw = if q % 2 == 0 { w.div_ceil(2) } else { w / 2 };
        let qh = if q / 2 == 0 { h.div_ceil(2) } else { h / 2 };
        let n = (qw * qh).max(1) as f32 * 4.0 * 255.0;
        for b in 0..GRAD_BINS {
            out.0[GRADIENT_OFFSET + q * GRAD_BINS + b] /= n;
        }
    }
}

/// Computes the descriptor of one frame (Rust path). `gray` is scratch of `w * h` bytes.
pub fn describe(
    w: usize,
    h: usize,
    rgb: &[u8],
    depth_m: &[f32],
    max_m: f32,
    gray: &mut [u8],
    out: &mut Descriptor,
) {
    let n = w * h;
    if w == 0 || h == 0 || rgb.len() < 3 * n || depth_m.len() < n || gray.len() < n {
        return;
    }
    grids(w, h, rgb, depth_m, max_m, out);
    for (g, c) in gray[..n].iter_mut().zip(rgb.chunks_exact(3)) {
        *g = luma(c[0], c[1], c[2]);
    }
    out.0[GRADIENT_OFFSET..].fill(0.0);
    // 3x3 Sobel with replicated borders (OpenCV's BORDER_REPLICATE)
    for y in 0..h {
        let (ym, yp) = (y.saturating_sub(1), (y + 1).min(h - 1));
        let (r0, r1, r2) = (
            &gray[ym * w..ym * w + w],
            &gray[y * w..y * w + w],
            &gray[yp * w..yp * w + w],
        );
        let qy = (y * 2 / h) * 2;
        for x in 0..w {
            let (xm, xp) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let p = |r: &[u8], i: usize| r[i] as i32;
            let gx =
                (p(r0, xp) - p(r0, xm)) + 2 * (p(r1, xp) - p(r1, xm)) + (p(r2, xp) - p(r2, xm));
            let gy = (p(r2, xm) - p(r0, xm)) + 2 * (p(r2, x) - p(r0, x)) + (p(r2, xp) - p(r0, xp));
            if gx != 0 || gy != 0 {
                add_gradient(out, qy + x * 2 / w, gx as f32, gy as f32);
            }
        }
    }
    normalise_gradients(w, h, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_match_atan2() {
        for deg in 0..360 {
            let a = (deg as f32 + 0.5).to_radians();
            let (gx, gy) = (a.cos() * 100.0, a.sin() * 100.0);
            assert_eq!(grad_bin(gx, gy), deg / 45, "{deg} deg");
        }
        // exact boundaries go to the higher bin
        assert_eq!(grad_bin(1.0, 0.0), 0);
        assert_eq!(grad_bin(1.0, 1.0), 1);
        assert_eq!(grad_bin(0.0, 1.0), 2);
        assert_eq!(grad_bin(-1.0, 1.0), 3);
        assert_eq!(grad_bin(-1.0, 0.0), 4);
        assert_eq!(grad_bin(-1.0, -1.0), 5);
        assert_eq!(grad_bin(0.0, -1.0), 6);
        assert_eq!(grad_bin(1.0, -1.0), 7);
    }

    #[test]
    fn a_vertical_edge_lands_in_the_horizontal_bins() {
        let (w, h) = (16, 8);
        let mut rgb = vec![0u8; w * h * 3];
        for y in 0..h {
            for x in w / 2..w {
                rgb[3 * (y * w + x)..3 * (y * w + x) + 3].fill(200);
            }
        }
        let depth = vec![1.0f32; w * h];
        let mut gray = vec![0u8; w * h];
        let mut d = Descriptor::default();
        describe(w, h, &rgb, &depth, 5.0, &mut gray, &mut d);
        // left-to-right brightening: gx > 0, gy = 0 -> bin 0, in both left quadrants? no: the
        // edge is at x = 8 (the quadrant border): columns 7 and 8 see it
        let g = &d.0[GRADIENT_OFFSET..];
        assert!(g[0] > 0.0 && g[GRAD_BINS] > 0.0, "{g:?}");
        assert!(g
            .iter()
            .enumerate()
            .all(|(i, &v)| i % GRAD_BINS == 0 || v == 0.0));
        // colour: left cells black, right cells 200/255
        assert_eq!(d.0[COLOUR_OFFSET], 0.0);
        assert!((d.0[COLOUR_OFFSET + 3 * (GRID_COLS - 1)] - 200.0 / 255.0).abs() < 1e-6);
        assert!(d.0[..COLOUR_OFFSET].iter().all(|&v| v == 1.0));
    }
}
