//! Motor primitives generated from the robot's description ([`RobotBody`]), not written for one
//! robot: task-space primitives of an arm's end effector (reach in 8 directions, push, pull,
//! lift, press, tap, sweep, circles, wave, retract ...) executed by damped-least-squares IK on
//! the model's Jacobian; per limb (legs, arms, waist, grippers) lifts, swings, raises and
//! oscillations; whole-body squats, sways, leans and twists for robots standing on several
//! legs. Amplitudes come from the model: a fraction of the arm's reach, of a limb's length, of
//! a joint's range.
//!
//! [`PrimitiveSet::generate`] builds the library once (allocates); a [`PrimitiveRun`] is built
//! per episode and asked for each cycle's command with [`PrimitiveRun::command`]
//! (allocation-free: fixed-size state, the kinematics evaluate in place).

use std::collections::BTreeMap;
use std::f64::consts::TAU;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::backend::body::{BodySpec, Kinematics, RobotBody};
use crate::types::{Command, CommandMode, JointVec, Time, MAX_JOINTS};
use crate::validate::{Checker, Validate};

/// `action.primitives`: how the primitive library is generated from the robot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrimitivesConfig {
    /// Site (or body) of the arm's end effector: task-space arm primitives through
    /// damped-least-squares IK on its Jacobian (needs a kinematic model: the MuJoCo backend).
    pub end_effector: Option<String>,
    /// Joint groups by name (e.g. `left_leg: [hip, knee, ankle]`); empty: inferred from the
    /// kinematic tree (one group per chain between branchings).
    pub groups: BTreeMap<String, Vec<String>>,
    /// Scale of every motion (1 = amplitudes from the model).
    pub scale: f64,
    /// Primitives left out of the library, by name.
    pub exclude: Vec<String>,
}

impl Default for PrimitivesConfig {
    fn default() -> Self {
        PrimitivesConfig {
            end_effector: None,
            groups: BTreeMap::new(),
            scale: 1.0,
            exclude: Vec::new(),
        }
    }
}

impl PrimitivesConfig {
    /// What the config asks of the backend's body description.
    pub fn spec(&self) -> BodySpec<'_> {
        BodySpec {
            end_effector: self.end_effector.as_deref(),
            groups: Some(&self.groups),
        }
    }
}

impl Validate for PrimitivesConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_f64("scale", self.scale, 0.01, 10.0);
        for (g, j) in &self.groups {
            c.require(
                !j.is_empty(),
                &format!("groups.{g}"),
                "needs at least one joint",
            );
        }
        if let Some(e) = &self.end_effector {
            c.require(
                !e.is_empty(),
                "end_effector",
                "must not be empty (omit the key)",
            );
        }
    }
}

/// How one execution of a primitive varies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PrimitiveParams {
    /// Scale of the motion (1 = nominal).
    pub amplitude: f64,
    /// Speed factor (duration = nominal / speed).
    pub speed: f64,
    /// Offset of the scene's object from its home position `(dx, dy)`, m (object-directed
    /// primitives aim at it).
    pub object: [f64; 2],
    /// Object mass, kg (applied to the world by the episode setup, not used for planning).
    pub mass: f64,
    /// Start pose: offset of every joint from home, as a fraction of a small per-joint range
    /// (the direction per joint is drawn from `seed`).
    pub start: f64,
    /// Seed of the execution jitter (and of the sensor noise in the episode setup).
    pub seed: u64,
}

impl Default for PrimitiveParams {
    fn default() -> Self {
        PrimitiveParams {
            amplitude: 1.0,
            speed: 1.0,
            object: [0.0; 2],
            mass: 0.2,
            start: 0.0,
            seed: 0,
        }
    }
}

/// A path of the arm's end effector, in the arm's frame: `f` forward (from the chain's base
/// towards the end effector, horizontal), `l` left, `u` up; `d` is the motion unit (a fraction
/// of the reach).
#[derive(Clone, Copy, Debug, PartialEq)]
enum ArmPath {
    /// Move horizontally by `d` in direction `deg` (0 = forward, 90 = left).
    Reach(f64),
    /// Up by `d`.
    Lift,
    /// Down onto the object (or by `0.8 d`) and hold.
    Press,
    /// Down beside the object (or by `0.5 d`), then along `(f, l)`.
    Push(f64, f64),
    /// Three taps down and up, beside the start.
    Tap,
    /// An arc from left to right, low.
    Sweep,
    /// A circle in the horizontal plane.
    Circle,
    /// A circle in the forward-up plane.
    VerticalCircle,
    /// A circle in the left-up plane.
    SideCircle,
    /// Back towards the base and up.
    Retract,
    /// Forward with a sideways zigzag.
    ZigZag,
    /// Up, then the distal joint oscillates (waves).
    Wave,
}

/// How a joint-space pattern moves its joints.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pattern {
    /// The first joint oscillates twice.
    Swing,
    /// Every joint oscillates twice, alternating signs.
    Oscillate,
    /// Every joint moves towards its upper limit and holds.
    Flex,
    /// The last joint turns and holds.
    Turn,
    /// The second joint oscillates twice (the last one against it).
    Nod,
}

/// How the tips of limbs move together (base frame: x forward, y left, z up).
#[derive(Clone, Copy, Debug, PartialEq)]
enum TipPath {
    /// Displace by `(x, y, z)` in units of each limb's motion unit, ramped in and held.
    Shift([f64; 3]),
    /// Rotate about the base's vertical axis by `d / |tip|` rad.
    Twist,
}

/// What a primitive moves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Motion {
    /// The arm's end effector.
    Arm(ArmPath),
    /// Tips of the groups in this bit mask (bit `g` = group `g` of the body).
    Tips(u32, TipPath),
    /// Joints of group `g` (or of the arm's chain with `usize::MAX`) by pattern.
    Joints(usize, Pattern),
    /// Keep the start pose.
    Hold,
}

/// A primitive of the library.
#[derive(Clone, Debug, PartialEq)]
pub struct PrimitiveSpec {
    /// Stable snake_case name (the label in reports, exports and grounding).
    pub name: &'static str,
    motion: Motion,
}

/// Upper bound of simultaneously driven tips (limbs) in one primitive.
const MAX_TIPS: usize = 8;

/// The primitive library of one robot, with the body it drives.
pub struct PrimitiveSet {
    specs: Vec<PrimitiveSpec>,
    limits: Vec<(f64, f64)>,
    groups: Vec<(Vec<usize>, Option<usize>, f64)>,
    arm: Option<crate::backend::body::Arm>,
    kin: Option<Box<dyn Kinematics>>,
    object: Option<[f64; 3]>,
    scale: f64,
    skipped: Vec<(String, String)>,
}

impl std::fmt::Debug for PrimitiveSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrimitiveSet")
            .field("names", &self.names())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// Interns a generated name: labels cross the control task's rings as `&'static str`. Names
/// are few and generated once per library; equal names share one allocation, so repeated
/// assemblies (tests, evaluations) do not grow memory.
pub fn intern(name: &str) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<std::collections::BTreeSet<&'static str>>> = OnceLock::new();
    let set = NAMES.get_or_init(Default::default);
    let mut set = set.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = set.get(name) {
        return s;
    }
    let s: &'static str = Box::leak(name.to_string().into_boxed_str());
    set.insert(s);
    s
}

impl PrimitiveSet {
    /// Generates the library of `body` (takes its kinematics). Primitives the robot cannot
    /// perform are skipped with a logged reason.
    pub fn generate(body: RobotBody, cfg: &PrimitivesConfig) -> PrimitiveSet {
        let RobotBody {
            joint_names,
            limits,
            groups,
            arm,
            kinematics,
            object,
        } = body;
        let mut specs: Vec<PrimitiveSpec> = Vec::new();
        let mut skipped: Vec<(String, String)> = Vec::new();
        let mut add = |name: String, motion: Motion| {
            specs.push(PrimitiveSpec {
                name: intern(&name),
                motion,
            })
        };
        let kin_ok = kinematics.is_some();
        // the arm
        let arm = arm.filter(|_| kin_ok);
        if let Some(a) = &arm {
            use ArmPath::*;
            let dirs = [
                ("forward", 0.0),
                ("forward_left", 45.0),
                ("left", 90.0),
                ("back_left", 135.0),
                ("back", 180.0),
                ("back_right", 225.0),
                ("right", 270.0),
                ("forward_right", 315.0),
            ];
            for (n, deg) in dirs {
                add(format!("reach_{n}"), Motion::Arm(Reach(deg)));
            }
            add("lift".into(), Motion::Arm(Lift));
            add("press_down".into(), Motion::Arm(Press));
            add("push_left".into(), Motion::Arm(Push(0.0, 1.0)));
            add("push_right".into(), Motion::Arm(Push(0.0, -1.0)));
            add("push_forward".into(), Motion::Arm(Push(1.0, 0.0)));
            add("pull_back".into(), Motion::Arm(Push(-1.0, 0.0)));
            add("tap".into(), Motion::Arm(Tap));
            add("sweep".into(), Motion::Arm(Sweep));
            add("circle".into(), Motion::Arm(Circle));
            add("vertical_circle".into(), Motion::Arm(VerticalCircle));
            add("side_circle".into(), Motion::Arm(SideCircle));
            add("retract".into(), Motion::Arm(Retract));
            add("zigzag".into(), Motion::Arm(ZigZag));
            if a.joints.len() >= 2 {
                add("wave".into(), Motion::Arm(Wave));
                add("nod".into(), Motion::Joints(usize::MAX, Pattern::Nod));
            } else {
                skipped.push(("wave, nod".into(), "the arm has fewer than 2 joints".into()));
            }
            add("shake".into(), Motion::Joints(usize::MAX, Pattern::Swing));
            if a.joints.len() >= 3 {
                add("twist".into(), Motion::Joints(usize::MAX, Pattern::Turn));
            } else {
                skipped.push(("twist".into(), "the arm has fewer than 3 joints".into()));
            }
        }
        // limbs other than the arm
        let on_arm = |g: &crate::backend::body::JointGroup| {
            arm.as_ref()
                .is_some_and(|a| g.joints.iter().all(|j| a.joints.contains(j)))
        };
        let limb = |g: &crate::backend::body::JointGroup| {
            kin_ok && g.tip.is_some() && g.length >= 0.1 && g.joints.len() >= 2
        };
        let mut lower = 0u32;
        for (gi, g) in groups.iter().enumerate().take(32) {
            if on_arm(g) || g.joints.is_empty() {
                continue;
            }
            let n = &g.name;
            if limb(g) && g.below_base {
                lower |= 1 << gi;
                add(
                    format!("{n}_lift"),
                    Motion::Tips(1 << gi, TipPath::Shift([0.0, 0.0, 1.0])),
                );
                add(format!("{n}_swing"), Motion::Joints(gi, Pattern::Swing));
            } else if limb(g) {
                add(
                    format!("{n}_raise"),
                    Motion::Tips(1 << gi, TipPath::Shift([0.0, 0.0, 1.0])),
                );
                add(
                    format!("{n}_forward"),
                    Motion::Tips(1 << gi, TipPath::Shift([1.0, 0.0, 0.0])),
                );
                add(
                    format!("{n}_out"),
                    Motion::Tips(1 << gi, TipPath::Shift([0.0, f64::NAN, 0.0])),
                );
                add(format!("{n}_wave"), Motion::Joints(gi, Pattern::Oscillate));
            } else {
                if !kin_ok {
                    add(format!("{n}_flex"), Motion::Joints(gi, Pattern::Flex));
                } else {
                    add(format!("{n}_bend"), Motion::Joints(gi, Pattern::Flex));
                }
                add(format!("{n}_swing"), Motion::Joints(gi, Pattern::Swing));
                if g.joints.len() >= 2 {
                    add(
                        format!("{n}_oscillate"),
                        Motion::Joints(gi, Pattern::Oscillate),
                    );
                }
            }
        }
        if lower.count_ones() >= 2 {
            let t = |p| Motion::Tips(lower, p);
            add("squat".into(), t(TipPath::Shift([0.0, 0.0, 0.8])));
            add("rise".into(), t(TipPath::Shift([0.0, 0.0, -0.3])));
            add("sway_left".into(), t(TipPath::Shift([0.0, -0.5, 0.0])));
            add("sway_right".into(), t(TipPath::Shift([0.0, 0.5, 0.0])));
            add("lean_forward".into(), t(TipPath::Shift([-0.5, 0.0, 0.0])));
            add("lean_back".into(), t(TipPath::Shift([0.5, 0.0, 0.0])));
            add("twist_body".into(), t(TipPath::Twist));
        } else if lower != 0 {
            skipped.push((
                "squat, rise, sway, lean, twist_body".into(),
                "fewer than 2 legs (limbs whose tips stand below the base)".into(),
            ));
        }
        if !joint_names.is_empty() {
            add("hold_still".into(), Motion::Hold);
        }
        // configured exclusions; duplicates (a group named like an arm primitive) dropped
        let mut seen = std::collections::BTreeSet::new();
        specs.retain(|s| {
            if cfg.exclude.iter().any(|e| e == s.name) {
                skipped.push((
                    s.name.into(),
                    "excluded by action.primitives.exclude".into(),
                ));
                return false;
            }
            seen.insert(s.name)
        });
        for (what, why) in &skipped {
            tracing::info!(primitives = %what, reason = %why, "primitive skipped");
        }
        let groups = groups
            .into_iter()
            .map(|g| (g.joints, g.tip, g.length))
            .collect();
        PrimitiveSet {
            specs,
            limits,
            groups,
            arm,
            kin: kinematics,
            object,
            scale: cfg.scale,
            skipped,
        }
    }

    /// The primitives, in label order.
    pub fn specs(&self) -> &[PrimitiveSpec] {
        &self.specs
    }

    /// Their names, in label order.
    pub fn names(&self) -> Vec<&'static str> {
        self.specs.iter().map(|s| s.name).collect()
    }

    /// Number of primitives.
    pub fn len(&self) -> usize {
        self.specs.len()
    }

    /// True when the robot has no primitive (no joints).
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Index of the primitive named `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }

    /// What was skipped, and why.
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// Home position of the scene's object, when it has one.
    pub fn object(&self) -> Option<[f64; 3]> {
        self.object
    }

    /// Starts primitive `index` at `t0` from joint positions `q0`; nominal duration
    /// `base_duration_s` at speed 1. No allocation.
    pub fn start(
        &mut self,
        index: usize,
        params: PrimitiveParams,
        q0: &[f64],
        t0: Time,
        base_duration_s: f64,
    ) -> PrimitiveRun {
        let n = self.limits.len().min(MAX_JOINTS);
        let mut q = JointVec::new();
        for i in 0..n {
            let v = q0.get(i).copied().unwrap_or(0.0);
            q.push(if v.is_finite() { v } else { 0.0 });
        }
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x9e1f_c0de);
        let mut jitter_p = [0.0; 3];
        for v in &mut jitter_p {
            *v = rng.gen_range(-1.0..1.0);
        }
        let mut jitter_q = JointVec::new();
        for _ in 0..n {
            jitter_q.push(rng.gen_range(-1.0..1.0));
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
        let index = index.min(self.specs.len().saturating_sub(1));
        let mut run = PrimitiveRun {
            index,
            params,
            q0: q.clone(),
            qc: q,
            tips0: [[0.0; 3]; MAX_TIPS],
            unit: 0.0,
            jitter_p,
            jitter_q,
            t0,
            duration_ns: (dur / speed * 1e9).round() as i64,
        };
        // where the driven points start
        if let (Some(kin), Some(spec)) = (self.kin.as_mut(), self.specs.get(index)) {
            kin.set(&run.q0);
            let mut jac = [[0.0; 3]; MAX_JOINTS];
            match &spec.motion {
                Motion::Arm(path) => {
                    if let Some(a) = &self.arm {
                        kin.point(a.point, &mut run.tips0[0], &mut jac);
                        run.unit = arm_unit(a, *path, &jac);
                    }
                }
                Motion::Tips(mask, _) => {
                    for (k, g) in bits(*mask).take(MAX_TIPS).enumerate() {
                        if let Some(tip) = self.groups.get(g).and_then(|g| g.1) {
                            kin.point(tip, &mut run.tips0[k], &mut jac);
                        }
                    }
                }
                _ => {}
            }
        }
        run
    }

    /// Writes the position command of `run` for time `t` into `cmd`. No allocation.
    pub fn command(&mut self, run: &mut PrimitiveRun, t: Time, cmd: &mut Command) {
        let s = run.phase(t);
        self.target(run, s);
        cmd.t = t;
        cmd.mode = CommandMode::Position;
        cmd.values.clear();
        for &v in &run.qc {
            cmd.values.push(if v.is_finite() { v } else { 0.0 });
        }
    }

    /// Joint range of `j` used for amplitudes, rad (2 pi when unlimited).
    fn width(&self, j: usize) -> f64 {
        let (lo, hi) = self.limits.get(j).copied().unwrap_or((0.0, 0.0));
        let w = hi - lo;
        if w.is_finite() && w > 0.0 {
            w
        } else {
            TAU
        }
    }

    /// Keeps `q` inside joint `j`'s limits (2 % margin).
    fn limit(&self, j: usize, q: f64) -> f64 {
        limit_of(&self.limits, j, q)
    }

    /// Moves the commanded joints of `run` to phase `s` in `[0, 1]`.
    fn target(&mut self, run: &mut PrimitiveRun, s: f64) {
        let a = amplitude(run.params.amplitude) * self.scale;
        let w = smooth(s / BLEND);
        let Some(spec) = self.specs.get(run.index) else {
            return;
        };
        match spec.motion {
            Motion::Hold => {
                for j in 0..run.qc.len() {
                    let v = run.q0[j] + 0.01 * self.width(j).min(3.0) * run.jitter_q[j] * w;
                    run.qc[j] = self.limit(j, v);
                }
            }
            Motion::Joints(g, pattern) => {
                let joints: &[usize] = if g == usize::MAX {
                    match &self.arm {
                        Some(a) => &a.joints,
                        None => &[],
                    }
                } else {
                    self.groups.get(g).map(|g| g.0.as_slice()).unwrap_or(&[])
                };
                let mut off = [0.0; MAX_JOINTS];
                let k = seg(s, 0.1, 1.0);
                let osc = (TAU * 2.0 * k).sin();
                let ramp = smooth(seg(s, 0.0, 0.8));
                let amp = |j: usize| (0.15 * self.width(j)).min(0.45) * a;
                match pattern {
                    Pattern::Swing => {
                        if let Some(&j) = joints.first() {
                            off[j] = amp(j) * osc;
                        }
                    }
                    Pattern::Nod => {
                        if let (Some(&j1), Some(&jl)) = (joints.get(1), joints.last()) {
                            off[j1] = 0.6 * amp(j1) * osc;
                            if jl != j1 {
                                off[jl] = -0.6 * amp(jl) * osc;
                            }
                        }
                    }
                    Pattern::Oscillate => {
                        for (i, &j) in joints.iter().enumerate() {
                            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
                            off[j] = 0.7 * amp(j) * osc * sign;
                        }
                    }
                    Pattern::Flex => {
                        for &j in joints {
                            // towards the upper limit, or +amp where unlimited
                            let (_, hi) = self.limits.get(j).copied().unwrap_or((0.0, 0.0));
                            let room = if hi.is_finite() {
                                (hi - run.q0[j]).max(0.0)
                            } else {
                                f64::INFINITY
                            };
                            off[j] = ramp * amp(j).min(0.5 * room);
                        }
                    }
                    Pattern::Turn => {
                        if let Some(&j) = joints.last() {
                            off[j] = ramp * 1.5 * amp(j);
                        }
                    }
                }
                for (j, &o) in off.iter().enumerate().take(run.qc.len()) {
                    let jit = 0.01 * self.width(j).min(3.0) * run.jitter_q[j] * w;
                    run.qc[j] = self.limit(j, run.q0[j] + jit + o);
                }
            }
            Motion::Arm(path) => self.arm_target(run, path, s, a),
            Motion::Tips(mask, path) => self.tips_target(run, mask, path, s, a),
        }
    }

    fn arm_target(&mut self, run: &mut PrimitiveRun, path: ArmPath, s: f64, a: f64) {
        let Some(arm) = &self.arm else { return };
        let (point, reach, fwd) = (arm.point, arm.reach, arm.forward);
        let h = run.tips0[0];
        let d = run.unit * a;
        let f = fwd;
        let l = [-f[1], f[0], 0.0];
        let u = [0.0, 0.0, 1.0];
        let at = |x: f64, y: f64, z: f64| -> [f64; 3] {
            [
                h[0] + x * f[0] + y * l[0] + z * u[0],
                h[1] + x * f[1] + y * l[1] + z * u[1],
                h[2] + x * f[2] + y * l[2] + z * u[2],
            ]
        };
        let e = smooth(seg(s, 0.0, 0.8));
        // the object relative to the start, in (f, l, u), when the scene has one
        let obj = self.object.map(|o| {
            let o = [
                o[0] + run.params.object[0],
                o[1] + run.params.object[1],
                o[2],
            ];
            let r = [o[0] - h[0], o[1] - h[1], o[2] - h[2]];
            [r[0] * f[0] + r[1] * f[1], r[0] * l[0] + r[1] * l[1], r[2]]
        });
        let mut wave = 0.0;
        let p = match path {
            ArmPath::Reach(deg) => {
                let th = deg.to_radians();
                at(d * e * th.cos(), d * e * th.sin(), 0.0)
            }
            ArmPath::Lift => at(0.0, 0.0, d * e),
            ArmPath::Press => {
                let (x, y, z) = match obj {
                    Some(o) => (o[0], o[1], o[2] + 0.07 * reach - 0.04 * reach * a),
                    None => (0.0, 0.0, -0.8 * d),
                };
                let above = [x, y, z + 0.08 * reach];
                let q = if s < 0.35 {
                    lerp3([0.0; 3], above, smooth(seg(s, 0.0, 0.35)))
                } else {
                    lerp3(above, [x, y, z], smooth(seg(s, 0.35, 0.7)))
                };
                at(q[0], q[1], q[2])
            }
            ArmPath::Push(dx, dy) => {
                let (start, len) = match obj {
                    Some(o) => {
                        let gap = 0.11 * reach;
                        ([o[0] - dx * gap, o[1] - dy * gap, o[2]], 0.2 * reach * a)
                    }
                    None => ([0.0, 0.0, -0.5 * d], 1.4 * d),
                };
                let above = [start[0], start[1], start[2] + 0.12 * reach];
                let q = if s < 0.25 {
                    lerp3([0.0; 3], above, smooth(seg(s, 0.0, 0.25)))
                } else if s < 0.4 {
                    lerp3(above, start, smooth(seg(s, 0.25, 0.4)))
                } else {
                    let k = smooth(seg(s, 0.4, 1.0)) * len;
                    [start[0] + dx * k, start[1] + dy * k, start[2]]
                };
                at(q[0], q[1], q[2])
            }
            ArmPath::Tap => {
                let side = 0.8 * d;
                let down = match obj {
                    Some(o) => (o[2] + 0.01 * reach).min(-0.3 * d),
                    None => -0.6 * d,
                };
                let z = if s < 0.25 {
                    0.0
                } else {
                    let k = seg(s, 0.25, 1.0) * 3.0;
                    down * (0.5 - 0.5 * (TAU * k).cos()) * a.min(1.0)
                };
                at(0.0, side * smooth(seg(s, 0.0, 0.25)), z)
            }
            ArmPath::Sweep => {
                let y0 = 1.2 * d;
                let q = if s < 0.3 {
                    lerp3([0.0; 3], [0.0, y0, -0.4 * d], smooth(seg(s, 0.0, 0.3)))
                } else {
                    let y = y0 - 2.0 * y0 * smooth(seg(s, 0.3, 1.0));
                    [0.0, y, -0.4 * d]
                };
                at(q[0], q[1], q[2])
            }
            ArmPath::Circle | ArmPath::VerticalCircle | ArmPath::SideCircle => {
                let r = 0.6 * d;
                let ph = TAU * smooth(seg(s, 0.1, 1.0));
                let (c1, c2) = (r * ph.cos() - r, r * ph.sin());
                match path {
                    ArmPath::Circle => at(c1, c2, 0.0),
                    ArmPath::VerticalCircle => at(c1, 0.0, c2),
                    _ => at(0.0, c1, c2),
                }
            }
            ArmPath::Retract => at(-1.5 * d * e, 0.0, 1.0 * d * e),
            ArmPath::ZigZag => {
                let k = seg(s, 0.1, 1.0);
                let zig = 0.5 * d * (TAU * 1.5 * k).sin();
                at(d * smooth(k), zig, 0.0)
            }
            ArmPath::Wave => {
                let k = seg(s, 0.3, 1.0);
                wave = (TAU * 3.0 * k).sin() * smooth(k * 4.0);
                at(0.0, 0.0, 0.8 * d * smooth(seg(s, 0.0, 0.3)))
            }
        };
        let jp = 0.012 * reach * smooth(s / BLEND);
        let p = [
            p[0] + run.jitter_p[0] * jp,
            p[1] + run.jitter_p[1] * jp,
            p[2] + run.jitter_p[2] * jp,
        ];
        // the arm's chain (without its distal joint when that one waves)
        let chain: ArrayJoints = self.arm_chain(path == ArmPath::Wave);
        self.ik(run, point, p, &chain, 0.05 * reach);
        if path == ArmPath::Wave {
            if let Some(&j) = self.arm.as_ref().and_then(|a| a.joints.last()) {
                let amp = (0.15 * self.width(j)).min(0.6) * a;
                run.qc[j] = self.limit(j, run.q0[j] + amp * wave);
            }
        }
    }

    fn arm_chain(&self, without_last: bool) -> ArrayJoints {
        let mut c = ArrayJoints::new();
        if let Some(a) = &self.arm {
            let n = a.joints.len() - usize::from(without_last && a.joints.len() > 1);
            for &j in a.joints.iter().take(n.min(MAX_JOINTS)) {
                c.push(j);
            }
        }
        c
    }

    fn tips_target(&mut self, run: &mut PrimitiveRun, mask: u32, path: TipPath, s: f64, a: f64) {
        let e = smooth(seg(s, 0.0, 0.8));
        for (k, g) in bits(mask).take(MAX_TIPS).enumerate() {
            let mut chain = ArrayJoints::new();
            let (tip, length) = match self.groups.get(g) {
                Some((joints, Some(tip), length)) => {
                    for &j in joints.iter().take(MAX_JOINTS) {
                        chain.push(j);
                    }
                    (*tip, *length)
                }
                _ => continue,
            };
            let d = 0.25 * length * a;
            let h = run.tips0[k];
            let p = match path {
                TipPath::Shift([x, y, z]) => {
                    // NaN y: outwards (away from the body's mid-plane)
                    let y = if y.is_nan() {
                        if h[1] >= 0.0 {
                            1.0
                        } else {
                            -1.0
                        }
                    } else {
                        y
                    };
                    [h[0] + x * d * e, h[1] + y * d * e, h[2] + z * d * e]
                }
                TipPath::Twist => {
                    let r = (h[0] * h[0] + h[1] * h[1]).sqrt().max(1e-3);
                    let ang = 0.5 * d * e / r;
                    let (c, sn) = (ang.cos(), ang.sin());
                    [h[0] * c - h[1] * sn, h[0] * sn + h[1] * c, h[2]]
                }
            };
            let jp = 0.02 * length * smooth(s / BLEND);
            let p = [
                p[0] + run.jitter_p[0] * jp,
                p[1] + run.jitter_p[1] * jp,
                p[2] + run.jitter_p[2] * jp,
            ];
            self.ik(run, tip, p, &chain, 0.05 * length.max(0.05));
        }
    }

    /// Two damped-least-squares steps moving `point` towards `target` with the joints `chain`
    /// (the commanded state `run.qc` is the IK's state: deterministic, independent of sensor
    /// noise). `lambda` is the damping, m.
    fn ik(
        &mut self,
        run: &mut PrimitiveRun,
        point: usize,
        target: [f64; 3],
        chain: &ArrayJoints,
        lambda: f64,
    ) {
        let limits = &self.limits;
        let Some(kin) = self.kin.as_mut() else { return };
        let mut pos = [0.0; 3];
        let mut jac = [[0.0; 3]; MAX_JOINTS];
        for _ in 0..2 {
            kin.set(&run.qc);
            if !kin.point(point, &mut pos, &mut jac) {
                return;
            }
            let err = [target[0] - pos[0], target[1] - pos[1], target[2] - pos[2]];
            // A = J J^T + lambda^2 I (3 x 3), dq = J^T A^-1 err
            let mut m = nalgebra::Matrix3::<f64>::identity() * (lambda * lambda);
            for &j in chain.iter() {
                let c = nalgebra::Vector3::from(jac[j]);
                m += c * c.transpose();
            }
            let Some(inv) = m.try_inverse() else { return };
            let y = inv * nalgebra::Vector3::from(err);
            let mut step = [0.0; MAX_JOINTS];
            let mut big: f64 = 0.0;
            for &j in chain.iter() {
                step[j] = jac[j][0] * y[0] + jac[j][1] * y[1] + jac[j][2] * y[2];
                big = big.max(step[j].abs());
            }
            let k = if big > 0.15 { 0.15 / big } else { 1.0 };
            for &j in chain.iter() {
                if j < run.qc.len() {
                    run.qc[j] = limit_of(limits, j, run.qc[j] + k * step[j]);
                }
            }
        }
    }

    /// Position of the arm's end effector (or a limb's tip) for joint positions `q`, through
    /// the kinematics (tests, IK checks).
    pub fn point_at(&mut self, q: &[f64], point: PointOf) -> Option<[f64; 3]> {
        let p = match point {
            PointOf::Arm => self.arm.as_ref()?.point,
            PointOf::Tip(g) => self.groups.get(g)?.1?,
        };
        let kin = self.kin.as_mut()?;
        kin.set(q);
        let mut pos = [0.0; 3];
        let mut jac = [[0.0; 3]; MAX_JOINTS];
        kin.point(p, &mut pos, &mut jac).then_some(pos)
    }

    /// Moves the arm's end effector to `target` by repeated IK steps from `q0` (tests: the
    /// generic IK reaches targets). Returns the joint positions.
    pub fn solve_arm(&mut self, q0: &[f64], target: [f64; 3], iterations: usize) -> JointVec {
        let mut run = self.start(0, PrimitiveParams::default(), q0, Time::ZERO, 1.0);
        let Some(arm) = &self.arm else {
            return run.qc;
        };
        let (point, reach) = (arm.point, arm.reach);
        let chain = self.arm_chain(false);
        for _ in 0..iterations {
            self.ik(&mut run, point, target, &chain, 0.05 * reach);
        }
        run.qc
    }

    /// The joint limits the primitives respect.
    pub fn limits(&self) -> &[(f64, f64)] {
        &self.limits
    }
}

/// Which point [`PrimitiveSet::point_at`] evaluates.
#[derive(Clone, Copy, Debug)]
pub enum PointOf {
    /// The arm's end effector.
    Arm,
    /// The tip of group `g`.
    Tip(usize),
}

type ArrayJoints = arrayvec::ArrayVec<usize, MAX_JOINTS>;

/// One execution of a primitive from a start pose. Fixed size; no allocation.
#[derive(Clone, Debug)]
pub struct PrimitiveRun {
    index: usize,
    /// Its parameters.
    pub params: PrimitiveParams,
    q0: JointVec,
    /// The commanded joint positions (the IK's state).
    qc: JointVec,
    tips0: [[f64; 3]; MAX_TIPS],
    /// The arm's motion unit for this run, m (see `arm_unit`).
    unit: f64,
    jitter_p: [f64; 3],
    jitter_q: JointVec,
    t0: Time,
    duration_ns: i64,
}

impl PrimitiveRun {
    /// Index of the primitive in its set (the label).
    pub fn index(&self) -> usize {
        self.index
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
}

/// Joint-space displacement every arm primitive's main motion aims at, rad.
const ARM_JOINT_MOTION: f64 = 0.3;

/// The arm's motion unit for `path` at the start pose: the end-effector displacement along the
/// path's main direction that moves the chain's joints by [`ARM_JOINT_MOTION`] (through the
/// damped pseudo-inverse of the Jacobian `jac`), kept within 5-30 % of the reach. Directions the
/// arm moves in easily get shorter paths, stiff ones longer: every primitive moves the joints
/// comparably, whatever the arm's geometry.
fn arm_unit(arm: &crate::backend::body::Arm, path: ArmPath, jac: &[[f64; 3]; MAX_JOINTS]) -> f64 {
    let f = arm.forward;
    let l = [-f[1], f[0], 0.0];
    let dir = |x: f64, y: f64, z: f64| {
        let v = [x * f[0] + y * l[0], x * f[1] + y * l[1], z];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-9);
        [v[0] / n, v[1] / n, v[2] / n]
    };
    let v = match path {
        ArmPath::Reach(deg) => {
            let t = deg.to_radians();
            dir(t.cos(), t.sin(), 0.0)
        }
        ArmPath::Lift | ArmPath::Wave | ArmPath::Tap | ArmPath::Press => dir(0.0, 0.0, 1.0),
        ArmPath::Push(x, y) => dir(x, y, 0.0),
        ArmPath::Retract => dir(-1.5, 0.0, 1.0),
        ArmPath::Sweep | ArmPath::SideCircle => dir(0.0, 1.0, 0.0),
        ArmPath::Circle | ArmPath::ZigZag => dir(0.7, 0.7, 0.0),
        ArmPath::VerticalCircle => dir(0.7, 0.0, 0.7),
    };
    let lambda = 0.05 * arm.reach;
    let mut m = nalgebra::Matrix3::<f64>::identity() * (lambda * lambda);
    for &j in &arm.joints {
        let c = nalgebra::Vector3::from(jac[j]);
        m += c * c.transpose();
    }
    let fallback = 0.15 * arm.reach;
    let Some(inv) = m.try_inverse() else {
        return fallback;
    };
    let y = inv * nalgebra::Vector3::from(v);
    let norm: f64 = arm
        .joints
        .iter()
        .map(|&j| (jac[j][0] * y[0] + jac[j][1] * y[1] + jac[j][2] * y[2]).powi(2))
        .sum::<f64>()
        .sqrt();
    if !(norm.is_finite() && norm > 1e-9) {
        return fallback;
    }
    (ARM_JOINT_MOTION / norm).clamp(0.05 * arm.reach, 0.3 * arm.reach)
}

/// Keeps `q` inside joint `j`'s limits (2 % margin).
fn limit_of(limits: &[(f64, f64)], j: usize, q: f64) -> f64 {
    let (lo, hi) = limits.get(j).copied().unwrap_or((0.0, 0.0));
    if lo.is_finite() && hi.is_finite() && hi > lo {
        let m = 0.02 * (hi - lo);
        q.clamp(lo + m, hi - m)
    } else {
        q
    }
}

/// The set bits of `mask`, lowest first.
fn bits(mask: u32) -> impl Iterator<Item = usize> {
    (0..32).filter(move |b| mask & (1 << b) != 0)
}

/// Fraction of the phase spent blending the jitter in.
const BLEND: f64 = 0.2;

fn amplitude(a: f64) -> f64 {
    if a.is_finite() {
        a.clamp(0.0, 3.0)
    } else {
        1.0
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn joints_only(n: usize, limits: (f64, f64)) -> PrimitiveSet {
        let names: Vec<String> = (0..n).map(|i| format!("j{i}")).collect();
        let body = RobotBody::from_joints(
            &names,
            &vec![limits; n],
            &PrimitivesConfig::default().spec(),
        )
        .unwrap();
        PrimitiveSet::generate(body, &PrimitivesConfig::default())
    }

    #[test]
    fn a_robot_known_by_its_joints_gets_joint_space_primitives_within_limits() {
        let mut set = joints_only(6, (-1.0, 1.0));
        let names = set.names();
        assert_eq!(
            names,
            vec!["body_flex", "body_swing", "body_oscillate", "hold_still"]
        );
        let q0 = [0.9, 0.0, -0.9, 0.2, 0.0, 0.0];
        for (i, name) in names.iter().enumerate() {
            let mut run = set.start(i, PrimitiveParams::default(), &q0, Time::ZERO, 1.0);
            let mut cmd = Command::hold(Time::ZERO);
            for k in 0..=50 {
                set.command(&mut run, Time((k * 20_000_000) as i64), &mut cmd);
                assert_eq!(cmd.values.len(), 6);
                for v in &cmd.values {
                    assert!((-0.96..=0.96).contains(v), "{name}: {v}");
                }
            }
        }
    }

    #[test]
    fn bad_parameters_and_no_joints_stay_finite() {
        let mut set = joints_only(3, (f64::NEG_INFINITY, f64::INFINITY));
        let pp = PrimitiveParams {
            amplitude: f64::NAN,
            speed: f64::INFINITY,
            object: [f64::NAN, 0.0],
            ..Default::default()
        };
        for i in 0..set.len() {
            let mut run = set.start(i, pp, &[f64::NAN], Time::ZERO, f64::NAN);
            let mut cmd = Command::hold(Time::ZERO);
            set.command(&mut run, Time(500_000_000), &mut cmd);
            assert!(cmd.values.iter().all(|v| v.is_finite()));
        }
        let empty = joints_only(0, (0.0, 1.0));
        assert!(empty.is_empty());
    }

    #[test]
    fn interned_names_are_shared() {
        let a = intern(&format!("x_{}", 1));
        let b = intern("x_1");
        assert!(std::ptr::eq(a, b));
    }
}
