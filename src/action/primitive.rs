//! Parameterised motor primitives for the reference arm: short joint-space trajectories (most
//! from fingertip paths through [`ik_point`](super::ik::ik_point)) executed with variation in
//! amplitude, speed, object position and a seeded execution jitter.
//!
//! A [`PrimitiveRun`] is built once per episode (no allocation) and then asked for the command
//! of each control cycle with [`PrimitiveRun::command`] (allocation-free, pure in `t`).

use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ik::{fingertip, ik_point};
use crate::types::{Command, CommandMode, Time};

macro_rules! primitives {
    ($($v:ident => $name:literal, $doc:literal;)*) => {
        /// A motor primitive of the curriculum.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Primitive {
            $(#[doc = $doc] $v,)*
        }
        /// Every primitive, in label order.
        pub const PRIMITIVES: &[Primitive] = &[$(Primitive::$v,)*];
        impl Primitive {
            /// Stable snake_case name (labels in reports and exports).
            pub fn name(self) -> &'static str {
                match self { $(Primitive::$v => $name,)* }
            }
        }
    };
}

primitives! {
    ReachForward => "reach_forward", "Move the fingertip 7 cm forward (away from the base) at hover height.";
    ReachForwardLeft => "reach_forward_left", "Reach diagonally forward-left.";
    ReachLeft => "reach_left", "Reach left (+y).";
    ReachBackLeft => "reach_back_left", "Reach diagonally back-left.";
    ReachBack => "reach_back", "Reach back (towards the base).";
    ReachBackRight => "reach_back_right", "Reach diagonally back-right.";
    ReachRight => "reach_right", "Reach right (-y).";
    ReachForwardRight => "reach_forward_right", "Reach diagonally forward-right.";
    PushLeft => "push_left", "Go down beside the object and push it left.";
    PushRight => "push_right", "Go down beside the object and push it right.";
    PushForward => "push_forward", "Go down behind the object and push it away from the base.";
    PullBack => "pull_back", "Go down in front of the object and drag it towards the base.";
    TapTable => "tap_table", "Tap the table three times beside the object.";
    PressDown => "press_down", "Press down on top of the object and hold.";
    Lift => "lift", "Raise the hand 15 cm, pointing down.";
    PointUp => "point_up", "Straighten the arm upwards.";
    Sweep => "sweep", "Sweep the fingertip sideways low over the table (clear of the object).";
    Wave => "wave", "Raise the hand and wave the wrist.";
    Circle => "circle", "Draw a horizontal circle with the fingertip.";
    VerticalCircle => "vertical_circle", "Draw a vertical circle (x-z plane) with the fingertip.";
    Retract => "retract", "Fold the arm back close to the base.";
    HoldStill => "hold_still", "Keep the current pose.";
    Nod => "nod", "Oscillate the shoulder pitch twice.";
    Shake => "shake", "Oscillate the shoulder yaw twice.";
}

impl Primitive {
    /// Index in [`PRIMITIVES`] (the label).
    pub fn index(self) -> usize {
        PRIMITIVES.iter().position(|&p| p == self).unwrap_or(0)
    }

    /// The primitive named `name`.
    pub fn from_name(name: &str) -> Option<Primitive> {
        PRIMITIVES.iter().copied().find(|p| p.name() == name)
    }
}

/// How one execution of a primitive varies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrimitiveParams {
    /// Scale of the motion (1 = nominal).
    pub amplitude: f64,
    /// Speed factor (duration = nominal / speed).
    pub speed: f64,
    /// Object position on the table `(x, y)`, m (object-directed primitives aim at it).
    pub object: [f64; 2],
    /// Object mass, kg (applied to the world by the episode runner, not used for planning).
    pub mass: f64,
    /// Seed of the execution jitter (and of the sensor noise in the episode runner).
    pub seed: u64,
}

impl Default for PrimitiveParams {
    fn default() -> Self {
        PrimitiveParams {
            amplitude: 1.0,
            speed: 1.0,
            object: [0.42, 0.0],
            mass: 0.2,
            seed: 0,
        }
    }
}

/// Fraction of the phase spent blending from the start pose onto the primitive's path.
const BLEND: f64 = 0.2;

fn smooth(s: f64) -> f64 {
    let s = s.clamp(0.0, 1.0);
    s * s * (3.0 - 2.0 * s)
}

/// `s` rescaled from `[a, b]` to `[0, 1]` (clamped).
fn seg(s: f64, a: f64, b: f64) -> f64 {
    ((s - a) / (b - a)).clamp(0.0, 1.0)
}

fn lerp3(a: [f64; 3], b: [f64; 3], w: f64) -> [f64; 3] {
    [
        a[0] + (b[0] - a[0]) * w,
        a[1] + (b[1] - a[1]) * w,
        a[2] + (b[2] - a[2]) * w,
    ]
}

fn add3(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// One execution of a primitive from a start pose. Pure in `t`; no allocation.
#[derive(Clone, Debug)]
pub struct PrimitiveRun {
    /// The primitive.
    pub primitive: Primitive,
    /// Its parameters.
    pub params: PrimitiveParams,
    q0: [f64; 4],
    tip0: [f64; 3],
    jitter_p: [f64; 3],
    jitter_q: [f64; 4],
    t0: Time,
    duration_ns: i64,
}

impl PrimitiveRun {
    /// Starts `primitive` at `t0` from joint positions `q0` (4 joints; missing ones are 0);
    /// nominal duration `base_duration_s` at speed 1.
    pub fn new(
        primitive: Primitive,
        params: PrimitiveParams,
        q0: &[f64],
        t0: Time,
        base_duration_s: f64,
    ) -> PrimitiveRun {
        let mut q = [0.0; 4];
        for (d, s) in q.iter_mut().zip(q0) {
            *d = if s.is_finite() { *s } else { 0.0 };
        }
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x9e1f_c0de);
        let mut jitter_p = [0.0; 3];
        for v in &mut jitter_p {
            *v = rng.gen_range(-0.008..0.008);
        }
        let mut jitter_q = [0.0; 4];
        for v in &mut jitter_q {
            *v = rng.gen_range(-0.03..0.03);
        }
        let speed = if params.speed.is_finite() {
            params.speed.clamp(0.1, 10.0)
        } else {
            1.0
        };
        let dur = if base_duration_s.is_finite() {
            base_duration_s.clamp(0.01, 1e4)
        } else {
            1.0
        };
        PrimitiveRun {
            primitive,
            params,
            q0: q,
            tip0: fingertip(&q),
            jitter_p,
            jitter_q,
            t0,
            duration_ns: (dur / speed * 1e9).round() as i64,
        }
    }

    /// Duration of the execution, ns.
    pub fn duration_ns(&self) -> i64 {
        self.duration_ns
    }

    /// Phase in `[0, 1]` at time `t`.
    pub fn phase(&self, t: Time) -> f64 {
        ((t.0 - self.t0.0) as f64 / self.duration_ns as f64).clamp(0.0, 1.0)
    }

    /// True once `t` is past the end.
    pub fn done(&self, t: Time) -> bool {
        t.0 - self.t0.0 >= self.duration_ns
    }

    /// Writes the position command for time `t` into `cmd` (4 joint targets).
    pub fn command(&self, t: Time, cmd: &mut Command) {
        let q = self.target(self.phase(t));
        cmd.t = t;
        cmd.mode = CommandMode::Position;
        cmd.values.clear();
        for v in q {
            cmd.values.push(v);
        }
    }

    /// Joint targets at phase `s` in `[0, 1]`.
    pub fn target(&self, s: f64) -> [f64; 4] {
        use Primitive::*;
        let a = if self.params.amplitude.is_finite() {
            self.params.amplitude.clamp(0.0, 3.0)
        } else {
            1.0
        };
        let w = smooth(s / BLEND);
        let h = self.tip0;
        let [ox, oy] = self.params.object;
        let (ox, oy) = (
            if ox.is_finite() { ox } else { 0.42 },
            if oy.is_finite() { oy } else { 0.0 },
        );
        let jp = [
            self.jitter_p[0] * w,
            self.jitter_p[1] * w,
            self.jitter_p[2] * w,
        ];
        // a fingertip path, blended in from the start pose
        let cart = |p: [f64; 3]| -> [f64; 4] {
            let qi = ik_point(add3(p, jp));
            let mut q = [0.0; 4];
            for k in 0..4 {
                q[k] = self.q0[k] + (qi[k] - self.q0[k]) * w;
            }
            q
        };
        // a joint-space pose `base` reached over the blend, plus an offset
        let joint = |base: [f64; 4], off: [f64; 4]| -> [f64; 4] {
            let mut q = [0.0; 4];
            for k in 0..4 {
                q[k] = self.q0[k] + (base[k] + self.jitter_q[k] - self.q0[k]) * w + off[k];
            }
            q
        };
        // reach in a direction of the (radius, yaw) plane: 7 cm radially, 0.3 rad sideways (about
        // 13 cm at the hover radius; comparable joint motion in both axes)
        let reach = |deg: f64| {
            let e = a * smooth(seg(s, 0.0, 0.8));
            let th = deg.to_radians();
            let r = (h[0] * h[0] + h[1] * h[1]).sqrt() + 0.07 * e * th.cos();
            let yaw = h[1].atan2(h[0]) + 0.3 * e * th.sin();
            cart([r * yaw.cos(), r * yaw.sin(), h[2]])
        };
        // approach a point beside the object from above, then move along `dir` low over the table
        let push = |dx: f64, dy: f64| {
            let gap = 0.075;
            let start = [ox - dx * gap, oy - dy * gap, 0.03];
            let above = [start[0], start[1], 0.11];
            let len = 0.14 * a;
            let p = if s < 0.25 {
                lerp3(h, above, smooth(seg(s, 0.0, 0.25)))
            } else if s < 0.4 {
                lerp3(above, start, smooth(seg(s, 0.25, 0.4)))
            } else {
                let k = smooth(seg(s, 0.4, 1.0)) * len;
                [start[0] + dx * k, start[1] + dy * k, 0.03]
            };
            cart(p)
        };
        match self.primitive {
            ReachForward => reach(0.0),
            ReachForwardLeft => reach(45.0),
            ReachLeft => reach(90.0),
            ReachBackLeft => reach(135.0),
            ReachBack => reach(180.0),
            ReachBackRight => reach(225.0),
            ReachRight => reach(270.0),
            ReachForwardRight => reach(315.0),
            PushLeft => push(0.0, 1.0),
            PushRight => push(0.0, -1.0),
            PushForward => push(1.0, 0.0),
            PullBack => push(-1.0, 0.0),
            TapTable => {
                let spot = [0.30, 0.13, 0.0];
                let up = 0.10;
                let z = if s < 0.25 {
                    up
                } else {
                    // three taps: fingertip down to the table (centre 1 cm: 1 cm into it)
                    let k = seg(s, 0.25, 1.0) * 3.0;
                    let c = 0.5 - 0.5 * (TAU * k).cos();
                    up - (up - 0.01) * c * a.min(1.0)
                };
                let p0 = lerp3(h, [spot[0], spot[1], up], smooth(seg(s, 0.0, 0.25)));
                cart([p0[0], p0[1], z])
            }
            PressDown => {
                let above = [ox, oy, 0.13];
                let into = [ox, oy, 0.08 - 0.03 * a];
                let p = if s < 0.35 {
                    lerp3(h, above, smooth(seg(s, 0.0, 0.35)))
                } else {
                    lerp3(above, into, smooth(seg(s, 0.35, 0.7)))
                };
                cart(p)
            }
            Lift => cart([h[0], h[1], h[2] + 0.15 * a * smooth(seg(s, 0.0, 0.8))]),
            PointUp => {
                let k = smooth(seg(s, 0.0, 0.8)) * a.min(1.5);
                joint(self.q0, [0.0, -0.5 * k, -1.2 * k, -0.8 * k])
            }
            Sweep => {
                let r = 0.27;
                let y0 = 0.55 * a;
                let start = [r * y0.cos(), r * y0.sin(), 0.05];
                let p = if s < 0.3 {
                    lerp3(h, start, smooth(seg(s, 0.0, 0.3)))
                } else {
                    let yaw = y0 - 2.0 * y0 * smooth(seg(s, 0.3, 1.0));
                    [r * yaw.cos(), r * yaw.sin(), 0.05]
                };
                cart(p)
            }
            Wave => {
                let raised = [0.0, 0.1, 0.9, 0.2];
                let k = seg(s, 0.3, 1.0);
                let osc = 0.6 * a * (TAU * 3.0 * k).sin() * smooth(k * 4.0);
                let w2 = smooth(seg(s, 0.0, 0.3));
                let mut q = [0.0; 4];
                for j in 0..4 {
                    q[j] = self.q0[j] + (raised[j] + self.jitter_q[j] - self.q0[j]) * w2;
                }
                q[3] += osc;
                q
            }
            Circle => {
                let r = 0.06 * a;
                let ph = TAU * smooth(seg(s, 0.1, 1.0));
                cart([h[0] - r + r * ph.cos(), h[1] + r * ph.sin(), h[2]])
            }
            VerticalCircle => {
                let r = 0.06 * a;
                let ph = TAU * smooth(seg(s, 0.1, 1.0));
                cart([h[0] - r + r * ph.cos(), h[1], h[2] + r * ph.sin()])
            }
            Retract => {
                let target = [0.2, 0.0, 0.32];
                let p = lerp3(h, target, smooth(seg(s, 0.0, 0.8)) * a.min(1.2));
                cart(p)
            }
            HoldStill => joint(self.q0, [0.0; 4]),
            Nod => {
                let k = seg(s, 0.1, 1.0);
                let o = 0.25 * a * (TAU * 2.0 * k).sin();
                joint(self.q0, [0.0, o, 0.0, -o])
            }
            Shake => {
                let k = seg(s, 0.1, 1.0);
                let o = 0.45 * a * (TAU * 2.0 * k).sin();
                joint(self.q0, [o, 0.0, 0.0, 0.0])
            }
        }
        .map(|v| if v.is_finite() { v } else { 0.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: [f64; 4] = [0.0, 0.6, 1.4, 0.9];

    #[test]
    fn at_least_twenty_distinct_primitives_start_at_the_start_pose() {
        assert!(PRIMITIVES.len() >= 20);
        // the paths sampled at a few phases
        let phases = [0.3, 0.55, 0.8, 1.0];
        let mut paths: Vec<Vec<[f64; 4]>> = Vec::new();
        for &p in PRIMITIVES {
            assert_eq!(Primitive::from_name(p.name()), Some(p));
            let r = PrimitiveRun::new(p, PrimitiveParams::default(), &HOME, Time::ZERO, 1.6);
            let q = r.target(0.0);
            for k in 0..4 {
                assert!(
                    (q[k] - HOME[k]).abs() < 1e-9,
                    "{} does not start at home",
                    p.name()
                );
            }
            paths.push(phases.iter().map(|&s| r.target(s)).collect());
        }
        // no two primitives follow the same path
        for i in 0..paths.len() {
            for j in 0..i {
                let d: f64 = (0..phases.len())
                    .map(|k| {
                        (0..4)
                            .map(|m| (paths[i][k][m] - paths[j][k][m]).abs())
                            .sum::<f64>()
                    })
                    .sum();
                assert!(
                    d > 0.05,
                    "{} ~ {}",
                    PRIMITIVES[i].name(),
                    PRIMITIVES[j].name()
                );
            }
        }
    }

    #[test]
    fn speed_scales_duration_and_targets_stay_finite() {
        let mut pp = PrimitiveParams {
            speed: 2.0,
            ..PrimitiveParams::default()
        };
        let r = PrimitiveRun::new(Primitive::Circle, pp, &HOME, Time(5), 1.6);
        assert_eq!(r.duration_ns(), 800_000_000);
        pp.amplitude = f64::NAN;
        pp.object = [f64::INFINITY, 0.0];
        for &p in PRIMITIVES {
            let r = PrimitiveRun::new(p, pp, &[f64::NAN, 0.1], Time::ZERO, f64::NAN);
            for i in 0..=20 {
                assert!(r.target(i as f64 / 20.0).iter().all(|v| v.is_finite()));
            }
        }
    }
}
