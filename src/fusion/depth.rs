//! Depth features: a depth image reduced to a small fixed grid of nearest distances.
//!
//! Each cell holds the smallest valid depth (m) among its pixels; pixels outside
//! `[min_m, max_m]`, zero (the RealSense "no data" value) or non-finite are ignored, and a cell
//! without any valid pixel reads `max_m` ("nothing nearer than the range"). Allocation-free.

use super::DepthFilterConfig;

/// Most grid cells (e.g. 16 x 16).
pub const MAX_DEPTH_CELLS: usize = 256;

/// Pixel storage of a depth image.
#[derive(Clone, Copy, Debug)]
pub enum DepthPixels<'a> {
    /// Metres, row-major (MuJoCo's depth buffer after linearisation).
    F32(&'a [f32]),
    /// Raw sensor units, row-major; metres = value * `depth_units` (RealSense: 0.001).
    U16 {
        /// The pixels.
        data: &'a [u16],
        /// Metres per unit.
        depth_units: f32,
    },
}

/// A borrowed depth image.
#[derive(Clone, Copy, Debug)]
pub struct DepthImage<'a> {
    /// Width, px.
    pub width: usize,
    /// Height, px.
    pub height: usize,
    /// Pixels.
    pub pixels: DepthPixels<'a>,
}

/// Errors of the depth reduction.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DepthError {
    /// The pixel buffer does not hold `width * height` values.
    #[error("depth image {width}x{height}: expected {expected} pixels, got {got}")]
    Size {
        /// Width, px.
        width: usize,
        /// Height, px.
        height: usize,
        /// `width * height`.
        expected: usize,
        /// Pixels given.
        got: usize,
    },
    /// The image is smaller than the grid.
    #[error("depth image {width}x{height} is smaller than the {cols}x{rows} grid")]
    TooSmall {
        /// Width, px.
        width: usize,
        /// Height, px.
        height: usize,
        /// Grid columns.
        cols: usize,
        /// Grid rows.
        rows: usize,
    },
    /// `depth_units` is not a positive finite number.
    #[error("depth units {0} must be positive and finite")]
    Units(f32),
}

/// Nearest distance per cell, row-major `rows x cols`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DepthGrid {
    /// Cells, m (first `rows * cols` used).
    pub cells: [f32; MAX_DEPTH_CELLS],
    /// Grid rows.
    pub rows: usize,
    /// Grid columns.
    pub cols: usize,
    /// Number of cells that had at least one valid pixel.
    pub valid_cells: usize,
}

impl DepthGrid {
    /// An empty grid of `rows x cols`, every cell at `fill`.
    pub fn new(rows: usize, cols: usize, fill: f32) -> DepthGrid {
        DepthGrid {
            cells: [fill; MAX_DEPTH_CELLS],
            rows,
            cols,
            valid_cells: 0,
        }
    }

    /// The used cells.
    pub fn as_slice(&self) -> &[f32] {
        &self.cells[..self.rows * self.cols]
    }
}

/// Reduces `img` into `out` (grid size and range from `cfg`).
pub fn reduce_depth(
    cfg: &DepthFilterConfig,
    img: &DepthImage<'_>,
    out: &mut DepthGrid,
) -> Result<(), DepthError> {
    let (w, h) = (img.width, img.height);
    let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
    let got = match img.pixels {
        DepthPixels::F32(d) => d.len(),
        DepthPixels::U16 { data, .. } => data.len(),
    };
    if got != w.saturating_mul(h) {
        return Err(DepthError::Size {
            width: w,
            height: h,
            expected: w.saturating_mul(h),
            got,
        });
    }
    if w < cols || h < rows {
        return Err(DepthError::TooSmall {
            width: w,
            height: h,
            cols,
            rows,
        });
    }
    if let DepthPixels::U16 { depth_units, .. } = img.pixels {
        if !(depth_units.is_finite() && depth_units > 0.0) {
            return Err(DepthError::Units(depth_units));
        }
    }
    let (lo, hi) = (cfg.min_m, cfg.max_m);
    out.rows = rows;
    out.cols = cols;
    out.valid_cells = 0;
    out.cells[..rows * cols].fill(f32::INFINITY);
    let stride = cfg.stride.max(1) as usize;
    match img.pixels {
        DepthPixels::F32(d) => scan(w, h, rows, cols, stride, out, |i| d[i], lo, hi),
        DepthPixels::U16 { data, depth_units } => scan(
            w,
            h,
            rows,
            cols,
            stride,
            out,
            |i| data[i] as f32 * depth_units,
            lo,
            hi,
        ),
    }
    for c in &mut out.cells[..rows * cols] {
        if c.is_finite() {
            out.valid_cells += 1;
        } else {
            *c = hi;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn scan(
    w: usize,
    h: usize,
    rows: usize,
    cols: usize,
    stride: usize,
    out: &mut DepthGrid,
    px: impl Fn(usize) -> f32,
    lo: f32,
    hi: f32,
) {
    for y in (0..h).step_by(stride) {
        let r = y * rows / h;
        let row = &mut out.cells[r * cols..(r + 1) * cols];
        for x in (0..w).step_by(stride) {
            let d = px(y * w + x);
            // NaN fails both comparisons and is skipped
            if d >= lo && d <= hi && d > 0.0 {
                let c = x * cols / w;
                if d < row[c] {
                    row[c] = d;
                }
            }
        }
    }
}
