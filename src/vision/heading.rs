//! The visual heading aid's geometry: from a RANSAC homography between two frames to the camera
//! rotation, and from there to the IMU-frame rotation the orientation filter takes
//! ([`crate::fusion::Fusion::correct_yaw`]).
//!
//! For a rotating camera (or a scene far away compared with the translation) corresponding
//! pixels satisfy `x1 ~ H x0` with `H = K R10 K^-1`, where `R10` maps camera-0 coordinates to
//! camera-1 coordinates. So `R10 ~ K^-1 H K`, up to scale: divide by the cube root of the
//! determinant and project onto SO(3) (SVD). The orientation of camera 1 in camera 0 is
//! `R01 = R10^T`; in the IMU frame `R_imu = E R01 E^T` with `E` the camera-to-IMU rotation.
//! The homography is the right model here because the essential matrix degenerates for pure
//! rotation (no baseline), which is exactly the heading-drift case (turning on the spot).

use nalgebra::{Matrix3, Quaternion, Rotation3, UnitQuaternion};

use super::HeadingConfig;
use crate::types::{CameraIntrinsics, Time};

/// Why a frame produced no rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationReject {
    /// First frame (or first after a size change): nothing to compare with.
    FirstFrame,
    /// The previous frame is older than `heading.max_gap_s` (frames were dropped).
    Gap,
    /// The frame has no intrinsics.
    NoIntrinsics,
    /// Too few ORB features in this or the previous frame (black, flat or blurred image).
    FewFeatures,
    /// Too few cross-checked matches.
    FewMatches,
    /// Too few RANSAC inliers, or too low an inlier ratio.
    FewInliers,
    /// The homography is degenerate or not a rotation.
    Degenerate,
    /// The rotation exceeds `heading.max_rotation_deg`.
    TooLarge,
    /// This build has no OpenCV.
    Unavailable,
}

/// A homography between the previous and the current frame, with its support.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HomographyMatch {
    /// Row-major 3x3, mapping previous-frame pixels to current-frame pixels.
    pub h: [f64; 9],
    /// Cross-checked matches.
    pub matches: u32,
    /// RANSAC inliers.
    pub inliers: u32,
}

/// An accepted frame-to-frame rotation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RotationEstimate {
    /// Previous frame time.
    pub t0: Time,
    /// This frame's time.
    pub t1: Time,
    /// Camera (optical frame) at `t1` in the camera frame at `t0`, `[w, x, y, z]`.
    pub camera: [f64; 4],
    /// IMU frame at `t1` in the IMU frame at `t0`, `[w, x, y, z]` (via `camera_to_imu`).
    pub imu: [f64; 4],
    /// Rotation angle, deg.
    pub angle_deg: f64,
    /// Cross-checked matches.
    pub matches: u32,
    /// RANSAC inliers.
    pub inliers: u32,
    /// Confidence for the filter (0..=1): the inlier ratio mapped so that the configured
    /// minimum gives 0.5 and all inliers give 1.
    pub confidence: f64,
}

/// Frame-pairing state and the rotation geometry.
#[derive(Clone, Debug)]
pub struct HeadingAid {
    cfg: HeadingConfig,
    extrinsic: UnitQuaternion<f64>,
    prev: Option<Time>,
}

impl HeadingAid {
    /// Configured by `cfg`.
    pub fn new(cfg: &HeadingConfig) -> HeadingAid {
        let e = cfg.camera_to_imu;
        HeadingAid {
            cfg: cfg.clone(),
            extrinsic: UnitQuaternion::from_quaternion(Quaternion::new(e[0], e[1], e[2], e[3])),
            prev: None,
        }
    }

    /// Forgets the previous frame.
    pub fn reset(&mut self) {
        self.prev = None;
    }

    /// Registers a frame at `t`; returns the previous frame's time if it can be paired.
    pub fn begin(&mut self, t: Time) -> Result<Time, RotationReject> {
        let prev = self.prev.replace(t);
        match prev {
            None => Err(RotationReject::FirstFrame),
            Some(p) if (t.0 - p.0) as f64 * 1e-9 > self.cfg.max_gap_s => Err(RotationReject::Gap),
            Some(p) => Ok(p),
        }
    }

    /// Turns a homography between the frames at `t0` and `t1` into a rotation estimate. With
    /// the RANSAC inliers (`(previous px, current px)` pairs) the rotation is refined by a
    /// least-squares fit on their bearing vectors (3 parameters instead of the homography's 8:
    /// several times less noise at low resolution), checked against the homography's.
    pub fn finish(
        &self,
        t0: Time,
        t1: Time,
        m: &HomographyMatch,
        k: &CameraIntrinsics,
        inliers: &[([f32; 2], [f32; 2])],
    ) -> Result<RotationEstimate, RotationReject> {
        if m.matches < self.cfg.min_matches {
            return Err(RotationReject::FewMatches);
        }
        let ratio = m.inliers as f64 / m.matches.max(1) as f64;
        if m.inliers < self.cfg.min_inliers || ratio < self.cfg.min_inlier_ratio {
            return Err(RotationReject::FewInliers);
        }
        let mut r10 = rotation_from_homography(&m.h, k).ok_or(RotationReject::Degenerate)?;
        if inliers.len() >= self.cfg.min_inliers as usize {
            let fit = rotation_from_rays(inliers, k).ok_or(RotationReject::Degenerate)?;
            // the two must agree (else the correspondences are not a rotation)
            if fit.angle_to(&r10) > fit.angle() + 2f64.to_radians() {
                return Err(RotationReject::Degenerate);
            }
            r10 = fit;
        }
        let r01 = r10.inverse();
        let angle_deg = r01.angle().to_degrees();
        if angle_deg > self.cfg.max_rotation_deg {
            return Err(RotationReject::TooLarge);
        }
        let imu = self.extrinsic * r01 * self.extrinsic.inverse();
        let q = |u: UnitQuaternion<f64>| [u.w, u.i, u.j, u.k];
        let lo = self.cfg.min_inlier_ratio;
        let confidence = (0.5 + 0.5 * (ratio - lo) / (1.0 - lo).max(1e-9)).clamp(0.0, 1.0);
        Ok(RotationEstimate {
            t0,
            t1,
            camera: q(r01),
            imu: q(imu),
            angle_deg,
            matches: m.matches,
            inliers: m.inliers,
            confidence,
        })
    }
}

/// `R10` (camera-0 to camera-1 coordinates) fitted to pixel pairs `(x0, x1)` by least squares
/// on their bearing vectors (Kabsch / Wahba: SVD of `sum b1 b0^T`).
fn rotation_from_rays(
    pairs: &[([f32; 2], [f32; 2])],
    k: &CameraIntrinsics,
) -> Option<UnitQuaternion<f64>> {
    let ray = |p: [f32; 2]| {
        nalgebra::Vector3::new(
            (p[0] as f64 - k.cx) / k.fx,
            (p[1] as f64 - k.cy) / k.fy,
            1.0,
        )
        .normalize()
    };
    let mut b = Matrix3::zeros();
    for &(p0, p1) in pairs {
        b += ray(p1) * ray(p0).transpose();
    }
    if !b.iter().all(|v| v.is_finite()) {
        return None;
    }
    let svd = b.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    let d = (u * vt).determinant().signum();
    let r = u * Matrix3::from_diagonal(&nalgebra::Vector3::new(1.0, 1.0, d)) * vt;
    Some(UnitQuaternion::from_matrix(&r))
}

/// `R10` (camera-0 coordinates to camera-1 coordinates) from `H = K R10 K^-1`, or `None` when
/// `H` is degenerate or far from a rotation (a plane seen under translation, a bad fit).
fn rotation_from_homography(h: &[f64; 9], k: &CameraIntrinsics) -> Option<UnitQuaternion<f64>> {
    if !h.iter().all(|v| v.is_finite()) {
        return None;
    }
    let hm = Matrix3::from_row_slice(h);
    let km = Matrix3::new(k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0);
    let kinv = km.try_inverse()?;
    let m = kinv * hm * km;
    let det = m.determinant();
    if !det.is_finite() || det.abs() < 1e-12 {
        return None;
    }
    let m = m / det.cbrt();
    let svd = m.svd(true, true);
    let (u, vt) = (svd.u?, svd.v_t?);
    // a rotation has singular values 1, 1, 1: far from that, H was not a rotation
    let s = svd.singular_values;
    if s.iter().any(|&v| (v - 1.0).abs() > 0.1) {
        return None;
    }
    let mut r = u * vt;
    if r.determinant() < 0.0 {
        return None;
    }
    // re-orthonormalise numerically
    r = Rotation3::from_matrix(&r).into_inner();
    Some(UnitQuaternion::from_matrix(&r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Vector3;

    #[test]
    fn recovers_a_synthetic_rotation() {
        let k = CameraIntrinsics {
            fx: 200.0,
            fy: 200.0,
            cx: 80.0,
            cy: 60.0,
        };
        let r = UnitQuaternion::from_axis_angle(&Vector3::y_axis(), 0.1)
            * UnitQuaternion::from_axis_angle(&Vector3::x_axis(), -0.03);
        let km = Matrix3::new(k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0);
        let h = 3.7 * km * r.to_rotation_matrix().into_inner() * km.try_inverse().unwrap();
        let mut a = [0.0; 9];
        for i in 0..3 {
            for j in 0..3 {
                a[3 * i + j] = h[(i, j)];
            }
        }
        let got = rotation_from_homography(&a, &k).unwrap();
        assert!(got.angle_to(&r) < 1e-9);
        // the same rotation from point pairs
        let pairs: Vec<([f32; 2], [f32; 2])> = [
            (10.0, 20.0),
            (150.0, 15.0),
            (80.0, 60.0),
            (30.0, 100.0),
            (140.0, 110.0),
        ]
        .iter()
        .map(|&(x, y)| {
            let p = h * nalgebra::Vector3::new(x, y, 1.0);
            (
                [x as f32, y as f32],
                [(p.x / p.z) as f32, (p.y / p.z) as f32],
            )
        })
        .collect();
        let fit = rotation_from_rays(&pairs, &k).unwrap();
        assert!(fit.angle_to(&r) < 1e-5, "{}", fit.angle_to(&r));
        // a shear is no rotation
        a[1] += 0.5 * a[0];
        assert!(rotation_from_homography(&a, &k).is_none());
    }
}
