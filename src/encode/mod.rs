//! Experience encoding: `(state before, command, state after)` -> unit vector in R^D.
//!
//! ```text
//! FusedState before ─┐   per modality: raw features (state, change, command)
//! Command           ─┼─> running z-score per feature ─> block scaled to norm = weight
//! FusedState after  ─┘                 │
//!                                      v
//!        sparse random projection (seeded, `nnz` signed entries per input) -> normalise -> R^D
//! ```
//! * Modalities are a list ([`ModalitySpec`]): the built-in ones are computed from the states;
//!   more (e.g. a visual descriptor) are appended with [`Encoder::with_extra_modality`] and
//!   passed as slices to [`Encoder::encode_with`].
//! * Deterministic: the projection comes from a ChaCha8 stream seeded by `seed`, and every sum
//!   runs in a fixed order, so the same inputs in the same order give the same bits.
//! * No allocation per call: all buffers are sized at construction.
//! * Bad input never propagates: non-finite features are replaced by 0 and counted.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::fusion::FusedState;
use crate::types::{Command, CommandMode, Time};
use crate::validate::{Checker, Validate};

/// Largest supported output dimension.
pub const MAX_DIM: usize = 1024;

/// Weight of each built-in modality (`encode.weights`); 0 switches a modality off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModalityWeights {
    /// Gravity direction in the IMU frame (tilt), and its change.
    pub orientation: f64,
    /// Angular velocity and linear acceleration, and their change.
    pub imu_motion: f64,
    /// Joint positions and their change.
    pub joint_position: f64,
    /// Joint velocities and their change.
    pub joint_velocity: f64,
    /// Joint efforts and their change.
    pub joint_effort: f64,
    /// Contact forces and their change.
    pub contacts: f64,
    /// Depth grid and its change.
    pub depth: f64,
    /// The command (values and mode).
    pub command: f64,
}

impl Default for ModalityWeights {
    fn default() -> Self {
        ModalityWeights {
            orientation: 1.0,
            imu_motion: 0.5,
            joint_position: 1.0,
            joint_velocity: 1.0,
            joint_effort: 0.5,
            contacts: 0.5,
            depth: 0.5,
            command: 1.5,
        }
    }
}

/// The `encode:` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncodeConfig {
    /// Output dimension D.
    pub dim: u32,
    /// Non-zero entries per input feature in the projection.
    pub nnz: u32,
    /// Seed of the projection, mixed with the top-level `seed`.
    pub seed: u64,
    /// Window (in experiences) of the running mean/variance per feature.
    pub norm_window: f64,
    /// Weights of the modalities' changes (after - before) and of the command.
    pub weights: ModalityWeights,
    /// Factor on a modality's weight for its value before the command (the context): low
    /// values make experiences of one primitive similar across starting states.
    pub context_weight: f64,
    /// The experience's course: sensed joint trajectory and touch profiles over phase bins.
    pub profile: ProfileConfig,
}

/// Most phase bins of an experience's trajectory and touch profiles.
pub const MAX_PROFILE_BINS: usize = 16;

/// `encode.profile`: how an experience's course is encoded beside its two ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProfileConfig {
    /// Phase bins (1..=16).
    pub bins: u32,
    /// Weight of the sensed joint trajectory profile (displacement from the start per bin);
    /// 0 = off.
    pub trajectory_weight: f64,
    /// Weight of the touch profile (largest contact force per bin); 0 = off.
    pub touch_weight: f64,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            bins: 8,
            trajectory_weight: 2.0,
            touch_weight: 0.7,
        }
    }
}

impl Default for EncodeConfig {
    fn default() -> Self {
        EncodeConfig {
            dim: 256,
            nnz: 8,
            seed: 0,
            norm_window: 2000.0,
            weights: ModalityWeights::default(),
            context_weight: 0.3,
            profile: ProfileConfig::default(),
        }
    }
}

impl Validate for EncodeConfig {
    fn validate(&self, c: &mut Checker) {
        c.range_u64("dim", self.dim as u64, 8, MAX_DIM as u64);
        c.range_u64("nnz", self.nnz as u64, 1, self.dim.max(1) as u64);
        c.range_f64("norm_window", self.norm_window, 1.0, 1e9);
        c.range_f64("context_weight", self.context_weight, 0.0, 1000.0);
        c.section("profile", |c| {
            let max_bins = MAX_PROFILE_BINS as u64;
            c.range_u64("bins", self.profile.bins as u64, 1, max_bins);
            c.range_f64(
                "trajectory_weight",
                self.profile.trajectory_weight,
                0.0,
                1000.0,
            );
            c.range_f64("touch_weight", self.profile.touch_weight, 0.0, 1000.0);
        });
        let w = &self.weights;
        c.section("weights", |c| {
            for (k, v) in [
                ("orientation", w.orientation),
                ("imu_motion", w.imu_motion),
                ("joint_position", w.joint_position),
                ("joint_velocity", w.joint_velocity),
                ("joint_effort", w.joint_effort),
                ("contacts", w.contacts),
                ("depth", w.depth),
                ("command", w.command),
            ] {
                c.range_f64(k, v, 0.0, 1000.0);
            }
        });
    }
}

/// Sizes of the robot's channels (fixed for an encoder's life).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Joints.
    pub joints: usize,
    /// Contact channels.
    pub contacts: usize,
    /// Depth grid cells (0 = no depth).
    pub depth_cells: usize,
}

/// One modality: a named block of raw features with a weight.
#[derive(Clone, Debug, PartialEq)]
pub struct ModalitySpec {
    /// Name (for reports).
    pub name: &'static str,
    /// Raw features in the block.
    pub dim: usize,
    /// Norm of the block after normalisation (0 = off).
    pub weight: f32,
}

/// An encoded experience: a unit vector in R^dim plus its time.
#[derive(Clone, Debug, PartialEq)]
pub struct Experience {
    /// Time of the state after.
    pub t: Time,
    /// Number of used entries in `v`.
    pub dim: usize,
    /// The vector (first `dim` entries).
    pub v: [f32; MAX_DIM],
}

impl Experience {
    /// An all-zero experience of dimension `dim` (clamped to [`MAX_DIM`]).
    pub fn new(dim: usize) -> Experience {
        Experience {
            t: Time::ZERO,
            dim: dim.min(MAX_DIM),
            v: [0.0; MAX_DIM],
        }
    }

    /// The used entries.
    pub fn as_slice(&self) -> &[f32] {
        &self.v[..self.dim]
    }

    /// Cosine similarity with another experience (both unit vectors: the dot product).
    pub fn cosine(&self, o: &Experience) -> f32 {
        cosine(self.as_slice(), o.as_slice())
    }
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Errors of the encoder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// The output buffer does not have the configured dimension.
    #[error("output buffer has {got} entries, the encoder's dimension is {want}")]
    OutputSize {
        /// Configured D.
        want: usize,
        /// Given.
        got: usize,
    },
    /// The extra modalities passed do not match the ones registered.
    #[error("extra modality {index}: expected {want} features, got {got}")]
    ExtraSize {
        /// Index among the extra modalities.
        index: usize,
        /// Registered size.
        want: usize,
        /// Given.
        got: usize,
    },
}

/// Counters of the encoder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncodeCounters {
    /// Experiences encoded.
    pub encoded: u64,
    /// Non-finite raw features replaced by 0.
    pub nonfinite: u64,
    /// Experiences whose features were all zero (output is a fixed unit vector).
    pub degenerate: u64,
}

/// The experience encoder. Construct once (allocates), then `encode` allocation-free.
#[derive(Clone, Debug)]
pub struct Encoder {
    dim: usize,
    nnz: usize,
    layout: Layout,
    mods: Vec<ModalitySpec>,
    builtin: usize,
    raw: Vec<f32>,
    mean: Vec<f64>,
    var: Vec<f64>,
    count: f64,
    window: f64,
    proj_idx: Vec<u16>,
    proj_sign: Vec<f32>,
    /// What happened so far.
    pub counters: EncodeCounters,
    learn_stats: bool,
    seed: u64,
}

impl Encoder {
    /// An encoder for `layout`, seeded by `seed` (mixed with `cfg.seed`).
    pub fn new(cfg: &EncodeConfig, layout: Layout, seed: u64) -> Encoder {
        let w = &cfg.weights;
        let (n, m, c) = (layout.joints, layout.contacts, layout.depth_cells);
        // every state modality gives two blocks: its value before (context) and its change
        let ctx = cfg.context_weight as f32;
        let mut mods = Vec::new();
        for (name, change, dim, weight) in [
            ("orientation", "orientation_change", 3, w.orientation),
            ("imu_motion", "imu_motion_change", 6, w.imu_motion),
            (
                "joint_position",
                "joint_position_change",
                n,
                w.joint_position,
            ),
            (
                "joint_velocity",
                "joint_velocity_change",
                n,
                w.joint_velocity,
            ),
            ("joint_effort", "joint_effort_change", n, w.joint_effort),
            ("contacts", "contacts_change", m, w.contacts),
            ("depth", "depth_change", c, w.depth),
        ] {
            mods.push(ModalitySpec {
                name,
                dim,
                weight: weight as f32 * ctx,
            });
            mods.push(ModalitySpec {
                name: change,
                dim,
                weight: weight as f32,
            });
        }
        mods.push(ModalitySpec {
            name: "command",
            dim: n + 4,
            weight: w.command as f32,
        });
        let dim = (cfg.dim as usize).clamp(1, MAX_DIM);
        let mut e = Encoder {
            dim,
            nnz: (cfg.nnz as usize).clamp(1, dim),
            layout,
            builtin: mods.len(),
            mods,
            raw: Vec::new(),
            mean: Vec::new(),
            var: Vec::new(),
            count: 0.0,
            window: cfg.norm_window.max(1.0),
            proj_idx: Vec::new(),
            proj_sign: Vec::new(),
            counters: EncodeCounters::default(),
            learn_stats: true,
            seed: seed ^ cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        };
        e.rebuild();
        e
    }

    /// Adds a modality whose `dim` raw features the caller passes to [`Encoder::encode_with`]
    /// (e.g. a visual descriptor). Resets the running statistics.
    pub fn with_extra_modality(mut self, name: &'static str, dim: usize, weight: f32) -> Encoder {
        self.mods.push(ModalitySpec { name, dim, weight });
        self.rebuild();
        self
    }

    fn rebuild(&mut self) {
        let total: usize = self.mods.iter().map(|m| m.dim).sum();
        self.raw = vec![0.0; total];
        self.mean = vec![0.0; total];
        self.var = vec![1.0; total];
        self.count = 0.0;
        // the projection of input j depends only on (seed, j): adding a modality keeps the others
        self.proj_idx = vec![0; total * self.nnz];
        self.proj_sign = vec![0.0; total * self.nnz];
        let s = 1.0 / (self.nnz as f32).sqrt();
        for j in 0..total {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(j as u64);
            let base = j * self.nnz;
            let mut k = 0;
            while k < self.nnz {
                let h = rng.gen_range(0..self.dim) as u16;
                if self.proj_idx[base..base + k].contains(&h) {
                    continue; // distinct outputs per input
                }
                self.proj_idx[base + k] = h;
                self.proj_sign[base + k] = if rng.gen::<bool>() { s } else { -s };
                k += 1;
            }
        }
    }

    /// The modalities, in feature order.
    pub fn modalities(&self) -> &[ModalitySpec] {
        &self.mods
    }

    /// Output dimension D.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// SHA-256 of everything that decides where an experience lands: dimension, modalities and
    /// weights, projection, and the calibrated feature statistics. Two encoders with the same
    /// lineage map the same raw experience to the same vector (peer validation compares centers
    /// only between peers of one lineage, see `crate::peers`).
    pub fn lineage(&self) -> [u8; 32] {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update((self.dim as u64).to_le_bytes());
        h.update((self.nnz as u64).to_le_bytes());
        for m in &self.mods {
            h.update(m.name.as_bytes());
            h.update((m.dim as u64).to_le_bytes());
            h.update(m.weight.to_le_bytes());
        }
        for i in &self.proj_idx {
            h.update(i.to_le_bytes());
        }
        for s in &self.proj_sign {
            h.update(s.to_le_bytes());
        }
        for x in self.mean.iter().chain(&self.var) {
            h.update(x.to_le_bytes());
        }
        h.update(self.count.to_le_bytes());
        h.finalize().into()
    }

    /// Freezes (`false`) or resumes (`true`) the running statistics.
    pub fn set_learn_stats(&mut self, on: bool) {
        self.learn_stats = on;
    }

    /// Encodes into `exp` (its `dim` is set to D).
    pub fn encode(
        &mut self,
        before: &FusedState,
        cmd: &Command,
        after: &FusedState,
        exp: &mut Experience,
    ) -> Result<(), EncodeError> {
        exp.dim = self.dim;
        exp.t = after.t;
        self.encode_with(before, cmd, after, &[], &mut exp.v[..self.dim])
    }

    /// Encodes into `out` (length D), with the raw features of the extra modalities in `extra`.
    pub fn encode_with(
        &mut self,
        before: &FusedState,
        cmd: &Command,
        after: &FusedState,
        extra: &[&[f32]],
        out: &mut [f32],
    ) -> Result<(), EncodeError> {
        if out.len() != self.dim {
            return Err(EncodeError::OutputSize {
                want: self.dim,
                got: out.len(),
            });
        }
        let extra_specs = &self.mods[self.builtin..];
        if extra.len() != extra_specs.len() {
            return Err(EncodeError::ExtraSize {
                index: extra.len().min(extra_specs.len()),
                want: extra_specs.get(extra.len()).map_or(0, |m| m.dim),
                got: 0,
            });
        }
        for (i, (x, m)) in extra.iter().zip(extra_specs).enumerate() {
            if x.len() != m.dim {
                return Err(EncodeError::ExtraSize {
                    index: i,
                    want: m.dim,
                    got: x.len(),
                });
            }
        }
        self.fill_builtin(before, cmd, after);
        let mut off: usize = self.mods[..self.builtin].iter().map(|m| m.dim).sum();
        for x in extra {
            self.raw[off..off + x.len()].copy_from_slice(x);
            off += x.len();
        }
        self.project(out);
        Ok(())
    }

    fn fill_builtin(&mut self, b: &FusedState, cmd: &Command, a: &FusedState) {
        let l = self.layout;
        let raw = &mut self.raw;
        let mut o = 0;
        let mut put = |v: f64| {
            raw[o] = v as f32;
            o += 1;
        };
        // orientation: gravity ("up") in the IMU frame, and its change
        let (ub, ua) = (up_in_body(&b.orientation), up_in_body(&a.orientation));
        ub.iter().for_each(|&v| put(v));
        (0..3).for_each(|k| put(ua[k] - ub[k]));
        // imu motion: angular velocity and linear acceleration, and their change
        b.angular_velocity.iter().for_each(|&v| put(v));
        b.linear_accel.iter().for_each(|&v| put(v));
        (0..3).for_each(|k| put(a.angular_velocity[k] - b.angular_velocity[k]));
        (0..3).for_each(|k| put(a.linear_accel[k] - b.linear_accel[k]));
        // joints, contacts, depth: value before, change
        let get64 = |s: &[f64], i: usize| s.get(i).copied().unwrap_or(0.0);
        for (sb, sa, n) in [
            (&b.joint_position[..], &a.joint_position[..], l.joints),
            (&b.joint_velocity[..], &a.joint_velocity[..], l.joints),
            (&b.joint_effort[..], &a.joint_effort[..], l.joints),
            (&b.contact_force[..], &a.contact_force[..], l.contacts),
        ] {
            (0..n).for_each(|i| put(get64(sb, i)));
            (0..n).for_each(|i| put(get64(sa, i) - get64(sb, i)));
        }
        let (db, da) = (b.depth.as_slice(), a.depth.as_slice());
        let get32 = |s: &[f32], i: usize| s.get(i).copied().unwrap_or(0.0) as f64;
        (0..l.depth_cells).for_each(|i| put(get32(db, i)));
        (0..l.depth_cells).for_each(|i| put(get32(da, i) - get32(db, i)));
        // command: position targets relative to the joints before (what the action asks to
        // change), velocities and efforts as they are; then the mode, one-hot
        for i in 0..l.joints {
            put(match cmd.mode {
                CommandMode::Hold => 0.0,
                CommandMode::Position => get64(&cmd.values, i) - get64(&b.joint_position, i),
                CommandMode::Velocity | CommandMode::Effort => get64(&cmd.values, i),
            });
        }
        for m in [
            CommandMode::Hold,
            CommandMode::Position,
            CommandMode::Velocity,
            CommandMode::Effort,
        ] {
            put(if cmd.mode == m { 1.0 } else { 0.0 });
        }
    }

    fn project(&mut self, out: &mut [f32]) {
        self.counters.encoded += 1;
        for x in self.raw.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
                self.counters.nonfinite += 1;
            }
        }
        // running statistics (exponential after a cumulative warm-up)
        if self.learn_stats {
            self.count += 1.0;
            let alpha = (1.0 / self.count).max(1.0 / self.window);
            for (j, &x) in self.raw.iter().enumerate() {
                let x = x as f64;
                let d = x - self.mean[j];
                self.mean[j] += alpha * d;
                let v = if self.count == 1.0 {
                    0.0
                } else {
                    (1.0 - alpha) * (self.var[j] + alpha * d * d)
                };
                self.var[j] = v;
            }
        }
        // z-score, then scale each modality block to norm = weight
        let mut off = 0;
        for m in &self.mods {
            let blk = off..off + m.dim;
            let mut ss = 0.0f64;
            for j in blk.clone() {
                let z = (self.raw[j] as f64 - self.mean[j]) / (self.var[j] + 1e-6).sqrt();
                self.raw[j] = z as f32;
                ss += z * z;
            }
            let s = if ss > 1e-12 {
                m.weight as f64 / ss.sqrt()
            } else {
                0.0
            };
            for j in blk {
                self.raw[j] = (self.raw[j] as f64 * s) as f32;
            }
            off += m.dim;
        }
        out.fill(0.0);
        for (j, &x) in self.raw.iter().enumerate() {
            if x == 0.0 {
                continue;
            }
            let base = j * self.nnz;
            for k in 0..self.nnz {
                out[self.proj_idx[base + k] as usize] += x * self.proj_sign[base + k];
            }
        }
        let n = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 1e-12 {
            out.iter_mut().for_each(|v| *v /= n);
        } else {
            self.counters.degenerate += 1;
            let u = 1.0 / (out.len() as f32).sqrt();
            out.fill(u);
        }
    }
}

/// World "up" (+z) expressed in the body frame of orientation `q = [w, x, y, z]`.
fn up_in_body(q: &[f64; 4]) -> [f64; 3] {
    let [w, x, y, z] = *q;
    [
        2.0 * (x * z - w * y),
        2.0 * (y * z + w * x),
        1.0 - 2.0 * (x * x + y * y),
    ]
}

/// Figures of `sattva bench encode`.
#[derive(Clone, Debug)]
pub struct EncodeBenchReport {
    /// Output dimension.
    pub dim: usize,
    /// Raw input features.
    pub inputs: usize,
    /// Non-zeros per input.
    pub nnz: usize,
    /// Calls timed.
    pub calls: u64,
    /// Median over repetitions of the mean ns per `encode`.
    pub ns_per_encode: f64,
    /// The same for a dense f32 matrix-vector product of the same shape (the reference).
    pub ns_dense_reference: f64,
}

impl std::fmt::Display for EncodeBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "encode: D = {}, {} raw features, {} non-zeros per feature, {} calls x 7 repetitions (median)",
            self.dim, self.inputs, self.nnz, self.calls
        )?;
        writeln!(
            f,
            "  sattva encode (normalise + sparse projection + unit norm) {:>9.0} ns/call",
            self.ns_per_encode
        )?;
        write!(
            f,
            "  reference: dense f32 projection only, same shape          {:>9.0} ns/call",
            self.ns_dense_reference
        )
    }
}

/// Times `encode` at the configured D on states shaped like `layout`.
pub fn bench_encode(cfg: &EncodeConfig, layout: Layout, calls: u64) -> EncodeBenchReport {
    use std::time::Instant;
    let mut enc = Encoder::new(cfg, layout, 1);
    let mut before = FusedState::default();
    for j in 0..layout.joints {
        before.joint_position.push(0.1 * j as f64);
        before.joint_velocity.push(0.0);
        before.joint_effort.push(0.0);
    }
    for _ in 0..layout.contacts {
        before.contact_force.push(0.0);
    }
    let cells = layout.depth_cells.min(crate::fusion::MAX_DEPTH_CELLS);
    before.depth = crate::fusion::DepthGrid::new(1, cells, 1.0);
    let mut after = before.clone();
    let mut cmd = Command {
        mode: CommandMode::Position,
        ..Command::default()
    };
    for j in 0..layout.joints {
        cmd.values.push(0.1 * j as f64 + 0.2);
    }
    let mut exp = Experience::new(enc.dim());
    let inputs = enc.raw.len();
    let mut times = Vec::new();
    let mut dense_times = Vec::new();
    let mat: Vec<f32> = (0..inputs * enc.dim())
        .map(|i| ((i * 2654435761) % 1000) as f32 * 1e-3)
        .collect();
    let x: Vec<f32> = (0..inputs).map(|i| i as f32 * 0.01).collect();
    let mut y = vec![0.0f32; enc.dim()];
    for _ in 0..7 {
        let start = Instant::now();
        for i in 0..calls {
            after.joint_position[0] = (i % 100) as f64 * 0.01;
            after.linear_accel[0] = (i % 7) as f64;
            let _ = enc.encode(&before, &cmd, &after, &mut exp);
            std::hint::black_box(&exp);
        }
        times.push(start.elapsed().as_nanos() as f64 / calls as f64);
        let start = Instant::now();
        for _ in 0..calls {
            for (o, row) in y.iter_mut().zip(mat.chunks_exact(inputs)) {
                *o = row.iter().zip(&x).map(|(a, b)| a * b).sum();
            }
            std::hint::black_box(&y);
        }
        dense_times.push(start.elapsed().as_nanos() as f64 / calls as f64);
    }
    times.sort_by(f64::total_cmp);
    dense_times.sort_by(f64::total_cmp);
    EncodeBenchReport {
        dim: enc.dim(),
        inputs,
        nnz: enc.nnz,
        calls,
        ns_per_encode: times[3],
        ns_dense_reference: dense_times[3],
    }
}
