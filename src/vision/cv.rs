//! The OpenCV path (feature `opencv`): depth cleanup and descriptor gradients with OpenCV's
//! SIMD kernels, and the ORB + RANSAC-homography tracker of the heading aid.
//!
//! Images are wrapped as `Mat` headers over the caller's buffers (no copy); OpenCV allocates
//! its outputs (reused across calls where the API allows).

use opencv::core::{self, DMatch, KeyPoint, Mat, Point2f, Scalar, Vector, CV_32F};
use opencv::prelude::*;
use opencv::{calib3d, features2d, imgproc};

use super::descriptor::{self, Descriptor, GRADIENT_OFFSET};
use super::heading::{HomographyMatch, RotationReject};
use super::{DepthCleanupConfig, HeadingConfig, VisionError};
use crate::fusion::DepthPixels;

impl From<opencv::Error> for VisionError {
    fn from(e: opencv::Error) -> Self {
        VisionError::OpenCv(e.message)
    }
}

fn rows_cols(w: usize, h: usize) -> Result<(i32, i32), VisionError> {
    match (i32::try_from(h), i32::try_from(w)) {
        (Ok(r), Ok(c)) => Ok((r, c)),
        _ => Err(VisionError::OpenCv(format!("frame {w}x{h} too large"))),
    }
}

/// Depth cleanup with OpenCV: `convertTo` (units), `threshold` (range), `medianBlur` (3x3),
/// `dilate` + masked copy (hole filling). Same result as [`super::cleanup::clean_depth`].
pub fn clean_depth(
    cfg: &DepthCleanupConfig,
    w: usize,
    h: usize,
    depth: DepthPixels<'_>,
    out: &mut [f32],
) -> Result<(), VisionError> {
    let (rows, cols) = rows_cols(w, h)?;
    let mut m = Mat::default();
    match depth {
        DepthPixels::F32(d) => {
            let src = Mat::new_rows_cols_with_data(rows, cols, &d[..w * h])?;
            src.copy_to(&mut m)?;
            core::patch_na_ns(&mut m, 0.0)?;
        }
        DepthPixels::U16 { data, depth_units } => {
            let src = Mat::new_rows_cols_with_data(rows, cols, &data[..w * h])?;
            src.convert_to(&mut m, CV_32F, depth_units as f64, 0.0)?;
        }
    }
    let mut t = Mat::default();
    // keep (min, max]: below or at min -> 0, above max -> 0 (also +-Inf)
    imgproc::threshold(&m, &mut t, cfg.min_m as f64, 0.0, imgproc::THRESH_TOZERO)?;
    imgproc::threshold(
        &t,
        &mut m,
        cfg.max_m as f64,
        0.0,
        imgproc::THRESH_TOZERO_INV,
    )?;
    if cfg.median {
        imgproc::median_blur(&m, &mut t, 3)?;
        std::mem::swap(&mut m, &mut t);
    }
    if cfg.hole_fill_passes > 0 {
        let kernel = Mat::default(); // 3x3 rectangle
        let mut holes = Mat::default();
        let mut dil = Mat::default();
        for _ in 0..cfg.hole_fill_passes {
            core::compare(&m, &Scalar::all(0.0), &mut holes, core::CMP_LE)?;
            if core::count_non_zero(&holes)? == 0 {
                break;
            }
            imgproc::dilate(
                &m,
                &mut dil,
                &kernel,
                core::Point::new(-1, -1),
                1,
                core::BORDER_REPLICATE,
                imgproc::morphology_default_border_value()?,
            )?;
            dil.copy_to_masked(&mut m, &holes)?;
        }
    }
    let data = m.data_typed::<f32>()?;
    out[..w * h].copy_from_slice(&data[..w * h]);
    Ok(())
}

/// Descriptor with OpenCV gradients: grids as in the Rust path, luminance by `cvtColor`, 3x3
/// `Sobel` (16-bit, replicated borders), binning in Rust.
pub fn describe(
    w: usize,
    h: usize,
    rgb: &[u8],
    depth_m: &[f32],
    max_m: f32,
    out: &mut Descriptor,
) -> Result<(), VisionError> {
    descriptor::grids(w, h, rgb, depth_m, max_m, out);
    let gray = gray_of(w, h, rgb)?;
    let (mut gx, mut gy) = (Mat::default(), Mat::default());
    imgproc::sobel(
        &gray,
        &mut gx,
        core::CV_16S,
        1,
        0,
        3,
        1.0,
        0.0,
        core::BORDER_REPLICATE,
    )?;
    imgproc::sobel(
        &gray,
        &mut gy,
        core::CV_16S,
        0,
        1,
        3,
        1.0,
        0.0,
        core::BORDER_REPLICATE,
    )?;
    let (gx, gy) = (gx.data_typed::<i16>()?, gy.data_typed::<i16>()?);
    out.0[GRADIENT_OFFSET..].fill(0.0);
    for y in 0..h {
        let qy = (y * 2 / h) * 2;
        let (rx, ry) = (&gx[y * w..y * w + w], &gy[y * w..y * w + w]);
        for x in 0..w {
            let (a, b) = (rx[x], ry[x]);
            if a != 0 || b != 0 {
                descriptor::add_gradient(out, qy + x * 2 / w, a as f32, b as f32);
            }
        }
    }
    descriptor::normalise_gradients(w, h, out);
    Ok(())
}

fn gray_of(w: usize, h: usize, rgb: &[u8]) -> Result<Mat, VisionError> {
    let (rows, cols) = rows_cols(w, h)?;
    let flat = Mat::new_rows_cols_with_data(rows, cols * 3, &rgb[..w * h * 3])?;
    let img = flat.reshape(3, rows)?;
    let mut gray = Mat::default();
    imgproc::cvt_color(&img, &mut gray, imgproc::COLOR_RGB2GRAY, 0)?;
    Ok(gray)
}

/// ORB tracker state: the previous frame's keypoints and descriptors.
pub struct CvState {
    orb: core::Ptr<features2d::ORB>,
    matcher: features2d::BFMatcher,
    prev_kp: Vector<KeyPoint>,
    prev_desc: Mat,
    kp: Vector<KeyPoint>,
    desc: Mat,
    matches: Vector<DMatch>,
    src: Vector<Point2f>,
    dst: Vector<Point2f>,
    /// RANSAC inliers of the last match, `(previous px, current px)`.
    pub inliers: Vec<([f32; 2], [f32; 2])>,
    has_prev: bool,
}

impl CvState {
    /// An ORB detector and a cross-checking Hamming matcher.
    pub fn new(cfg: &HeadingConfig) -> Result<CvState, VisionError> {
        let orb = features2d::ORB::create(
            cfg.orb_features as i32,
            1.2,
            cfg.orb_levels as i32,
            15,
            0,
            2,
            features2d::ORB_ScoreType::HARRIS_SCORE,
            15,
            12,
        )?;
        Ok(CvState {
            orb,
            matcher: features2d::BFMatcher::new(core::NORM_HAMMING, true)?,
            prev_kp: Vector::new(),
            prev_desc: Mat::default(),
            kp: Vector::new(),
            desc: Mat::default(),
            matches: Vector::new(),
            src: Vector::new(),
            dst: Vector::new(),
            inliers: Vec::with_capacity(cfg.orb_features as usize),
            has_prev: false,
        })
    }

    /// Forgets the previous frame.
    pub fn reset(&mut self) {
        self.has_prev = false;
    }

    /// ORB features of this frame, matched against the previous frame's, and the RANSAC
    /// homography from previous to current pixels. This frame becomes the previous one.
    pub fn track(
        &mut self,
        w: usize,
        h: usize,
        rgb: &[u8],
        cfg: &HeadingConfig,
    ) -> Result<HomographyMatch, RotationReject> {
        let r = self.track_inner(w, h, rgb, cfg);
        std::mem::swap(&mut self.kp, &mut self.prev_kp);
        std::mem::swap(&mut self.desc, &mut self.prev_desc);
        self.has_prev = true;
        match r {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e.message, "ORB tracking failed");
                Err(RotationReject::Degenerate)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn track_inner(
        &mut self,
        w: usize,
        h: usize,
        rgb: &[u8],
        cfg: &HeadingConfig,
    ) -> Result<Result<HomographyMatch, RotationReject>, opencv::Error> {
        let gray = match gray_of(w, h, rgb) {
            Ok(g) => g,
            Err(_) => return Ok(Err(RotationReject::Degenerate)),
        };
        self.kp.clear();
        self.inliers.clear();
        self.orb.detect_and_compute(
            &gray,
            &core::no_array(),
            &mut self.kp,
            &mut self.desc,
            false,
        )?;
        if !self.has_prev {
            return Ok(Err(RotationReject::FirstFrame));
        }
        let need = cfg.min_matches as usize;
        if self.kp.len() < need
            || self.prev_kp.len() < need
            || self.desc.empty()
            || self.prev_desc.empty()
        {
            return Ok(Err(RotationReject::FewFeatures));
        }
        self.matches.clear();
        self.matcher
            .train_match_def(&self.desc, &self.prev_desc, &mut self.matches)?;
        if self.matches.len() < need {
            return Ok(Err(RotationReject::FewMatches));
        }
        self.src.clear();
        self.dst.clear();
        for m in self.matches.iter() {
            let (q, t) = (m.query_idx as usize, m.train_idx as usize);
            self.dst.push(self.kp.get(q)?.pt());
            self.src.push(self.prev_kp.get(t)?.pt());
        }
        let mut mask = Mat::default();
        let hm = calib3d::find_homography(
            &self.src,
            &self.dst,
            &mut mask,
            calib3d::RANSAC,
            cfg.ransac_px,
        )?;
        if hm.empty() || hm.rows() != 3 || hm.cols() != 3 {
            return Ok(Err(RotationReject::Degenerate));
        }
        let v = hm.data_typed::<f64>()?;
        let mut hh = [0.0; 9];
        hh.copy_from_slice(&v[..9]);
        let inliers = core::count_non_zero(&mask)? as u32;
        self.inliers.clear();
        if let Ok(mk) = mask.data_typed::<u8>() {
            for (i, &f) in mk.iter().enumerate().take(self.src.len()) {
                if f != 0 {
                    let (a, b) = (self.src.get(i)?, self.dst.get(i)?);
                    self.inliers.push(([a.x, a.y], [b.x, b.y]));
                }
            }
        }
        Ok(Ok(HomographyMatch {
            h: hh,
            matches: self.matches.len() as u32,
            inliers,
        }))
    }
}
