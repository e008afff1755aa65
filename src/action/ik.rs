//! Kinematics of the reference arm (sim/arm_table.xml): shoulder yaw, shoulder pitch, elbow and
//! wrist pitch; links 0.30 / 0.25 m, fingertip 0.12 m past the wrist, shoulder 0.15 m above the
//! table. Joint angle 0 points every link straight up; positive pitch leans forward.

/// Upper arm length, m.
const L1: f64 = 0.3;
/// Forearm length, m.
const L2: f64 = 0.25;
/// Wrist to fingertip centre, m.
const L3: f64 = 0.12;
/// Height of the shoulder pitch axis above the table, m.
const SHOULDER_Z: f64 = 0.15;

/// Planar IK: joint targets `[yaw = 0, pitch, elbow, wrist]` that put the fingertip at `(x, 0, z)`
/// with the hand pointing straight down. Unreachable points give the nearest stretched pose.
pub fn ik_down(x: f64, z: f64) -> [f64; 4] {
    let (dx, dz) = (x, z + L3 - SHOULDER_Z);
    let r2 = dx * dx + dz * dz;
    let c2 = ((r2 - L1 * L1 - L2 * L2) / (2.0 * L1 * L2)).clamp(-1.0, 1.0);
    let t2 = c2.acos();
    let t1 = dx.atan2(dz) - (L2 * t2.sin()).atan2(L1 + L2 * t2.cos());
    let t3 = std::f64::consts::PI - t1 - t2;
    [0.0, t1, t2, t3]
}

/// IK for a fingertip at `p = (x, y, z)` with the hand pointing down (yaw towards the point).
pub fn ik_point(p: [f64; 3]) -> [f64; 4] {
    let r = (p[0] * p[0] + p[1] * p[1]).sqrt();
    let mut q = ik_down(r, p[2]);
    q[0] = p[1].atan2(p[0]);
    q
}

/// Forward kinematics: fingertip position for joints `q = [yaw, pitch, elbow, wrist]`.
pub fn fingertip(q: &[f64; 4]) -> [f64; 3] {
    let (a, b, c) = (q[1], q[1] + q[2], q[1] + q[2] + q[3]);
    let r = L1 * a.sin() + L2 * b.sin() + L3 * c.sin();
    let z = SHOULDER_Z + L1 * a.cos() + L2 * b.cos() + L3 * c.cos();
    [r * q[0].cos(), r * q[0].sin(), z]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ik_and_fk_agree() {
        for p in [
            [0.42, 0.0, 0.03],
            [0.3, 0.12, 0.1],
            [0.35, -0.2, 0.25],
            [0.2, 0.0, 0.35],
        ] {
            let q = ik_point(p);
            let f = fingertip(&q);
            for k in 0..3 {
                assert!((f[k] - p[k]).abs() < 1e-9, "{p:?} -> {q:?} -> {f:?}");
            }
            // hand points down
            assert!((q[1] + q[2] + q[3] - std::f64::consts::PI).abs() < 1e-9);
        }
    }
}
