//! The control loop, top-down: read -> fuse -> act -> clamp -> write, on whichever backend is configured.
//!
//! [`ControlLoop::cycle`] is the body of the RT control task: it allocates nothing and only calls
//! the backend and the stages. [`SensorTrace`] fingerprints every frame (SHA-256 over the raw
//! little-endian values) so runs can be compared bit for bit.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::action::{SafetyClamp, SineExplorer};
use crate::backend::{Backend, BackendError};
use crate::fusion::{FusedState, Fusion, FusionConfig};
use crate::ros::bridge::{ControlMode, FromRos, FusedImu, HealthSample, ToRos};
use crate::types::{Command, SensorFrame, Time};

/// Errors of a pipeline run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Writing the trace file failed.
    #[error("trace file {file}")]
    Trace {
        /// The file.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// SHA-256 fingerprint (and optional CSV copy) of a sequence of sensor frames.
pub struct SensorTrace {
    hash: Sha256,
    csv: Option<(String, std::io::BufWriter<std::fs::File>)>,
    frames: u64,
}

impl SensorTrace {
    /// A trace that only hashes.
    pub fn new() -> SensorTrace {
        SensorTrace {
            hash: Sha256::new(),
            csv: None,
            frames: 0,
        }
    }

    /// A trace that also writes every frame as a CSV row to `path`.
    pub fn with_csv(path: &str) -> Result<SensorTrace, PipelineError> {
        let f = std::fs::File::create(path).map_err(|source| PipelineError::Trace {
            file: path.to_string(),
            source,
        })?;
        let mut t = SensorTrace::new();
        t.csv = Some((path.to_string(), std::io::BufWriter::new(f)));
        Ok(t)
    }

    /// Adds a frame.
    pub fn push(&mut self, f: &SensorFrame) -> Result<(), PipelineError> {
        self.frames += 1;
        let h = &mut self.hash;
        h.update(f.t.0.to_le_bytes());
        let mut put = |x: f64| h.update(x.to_le_bytes());
        f.joints.position.iter().for_each(|&x| put(x));
        f.joints.velocity.iter().for_each(|&x| put(x));
        f.joints.effort.iter().for_each(|&x| put(x));
        if let Some(imu) = &f.imu {
            imu.accel.iter().chain(&imu.gyro).for_each(|&x| put(x));
            imu.mag.iter().flatten().for_each(|&x| put(x));
        }
        f.contacts.iter().for_each(|&x| put(x));
        if let Some((file, w)) = &mut self.csv {
            let mut row = format!("{}", f.t.0);
            let vals = f
                .joints
                .position
                .iter()
                .chain(&f.joints.velocity)
                .chain(f.imu.iter().flat_map(|i| i.accel.iter().chain(&i.gyro)))
                .chain(&f.contacts);
            for v in vals {
                row.push_str(&format!(",{v:.9e}"));
            }
            writeln!(w, "{row}").map_err(|source| PipelineError::Trace {
                file: file.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Frames seen.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Finishes: flushes the CSV and returns the hex SHA-256.
    pub fn finish(self) -> Result<String, PipelineError> {
        if let Some((file, mut w)) = self.csv {
            w.flush()
                .map_err(|source| PipelineError::Trace { file, source })?;
        }
        Ok(self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}

impl Default for SensorTrace {
    fn default() -> Self {
        Self::new()
    }
}

/// Per-run counters of the control loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoopStats {
    /// Cycles run.
    pub cycles: u64,
    /// Cycles whose frame had a touch force above the threshold.
    pub touch_cycles: u64,
    /// Largest touch force seen, N.
    pub max_touch: f64,
    /// Sum of accelerometer norms (for the mean), m/s^2.
    pub accel_norm_sum: f64,
    /// Frames with an IMU sample.
    pub imu_frames: u64,
    /// Sensor read errors (frame skipped, command held).
    pub read_errors: u64,
    /// Commands the backend rejected.
    pub write_errors: u64,
}

/// The control path: one backend, the explorer, the safety clamp. The RT task calls `cycle`.
pub struct ControlLoop<B: Backend> {
    /// The world.
    pub backend: B,
    explorer: SineExplorer,
    clamp: SafetyClamp,
    frame: SensorFrame,
    fusion: Fusion,
    cmd: Command,
    mode: ControlMode,
    external: Command,
    external_at: Option<Time>,
    command_timeout_ns: i64,
    seed: u64,
    /// Counters.
    pub stats: LoopStats,
}

/// Touch force above which a contact counts, N.
pub const TOUCH_THRESHOLD: f64 = 0.05;

impl<B: Backend> ControlLoop<B> {
    /// Wraps a configured, active backend; explores around its current joint positions.
    pub fn new(mut backend: B, seed: u64, max_amp: f64) -> Result<ControlLoop<B>, BackendError> {
        let mut frame = SensorFrame::default();
        let t = backend.now();
        backend.read(t, &mut frame)?;
        let explorer = SineExplorer::new(&frame.joints.position, max_amp, seed);
        let clamp = SafetyClamp::new(&backend.info().joint_limits);
        Ok(ControlLoop {
            backend,
            explorer,
            clamp,
            frame,
            fusion: Fusion::new(&FusionConfig::default()),
            cmd: Command::default(),
            mode: ControlMode::Explore,
            external: Command::default(),
            external_at: None,
            command_timeout_ns: 500_000_000,
            seed,
            stats: LoopStats::default(),
        })
    }

    /// Replaces the safety clamp (e.g. one with velocity and effort limits from the config).
    pub fn with_clamp(mut self, clamp: SafetyClamp) -> Self {
        self.clamp = clamp;
        self
    }

    /// Replaces the fusion stage with one configured by `cfg` (the default config otherwise).
    pub fn with_fusion(mut self, cfg: &FusionConfig) -> Self {
        self.fusion = Fusion::new(cfg);
        self
    }

    /// The sensor frame of the last cycle.
    pub fn frame(&self) -> &SensorFrame {
        &self.frame
    }

    /// The command of the last cycle, as it went to the backend (after the clamp).
    pub fn command(&self) -> &Command {
        &self.cmd
    }

    /// The fusion stage (e.g. for the vision task's yaw aid, applied between cycles).
    pub fn fusion_mut(&mut self) -> &mut Fusion {
        &mut self.fusion
    }

    /// The fused state of the last cycle.
    pub fn fused(&self) -> &FusedState {
        self.fusion.state()
    }

    /// The fused IMU state of the last cycle, if the backend has an IMU.
    pub fn fused_imu(&self) -> Option<FusedImu> {
        self.frame.imu.map(|_| {
            let s = self.fusion.state();
            FusedImu {
                orientation: s.orientation,
                angular_velocity: s.angular_velocity,
                orientation_valid: s.validity.orientation,
                heading_valid: s.validity.heading,
            }
        })
    }

    /// How long an operator command stays valid in [`ControlMode::External`], ns.
    pub fn set_command_timeout_ns(&mut self, ns: i64) {
        self.command_timeout_ns = ns;
    }

    /// The current control mode.
    pub fn mode(&self) -> ControlMode {
        self.mode
    }

    /// Applies operator input from the ROS bridge. Returns a reply for the ROS side, if any.
    /// Allocation-free (commands are fixed-capacity).
    pub fn handle(&mut self, msg: FromRos) -> Option<ToRos> {
        match msg {
            FromRos::Mode(m) => {
                self.mode = m;
                None
            }
            FromRos::Command(c) => {
                self.external = c;
                self.external_at = Some(self.backend.now());
                None
            }
            FromRos::Reset { request_id } => {
                let ok = self.backend.reset(self.seed).is_ok();
                self.external_at = None;
                Some(ToRos::ResetDone { request_id, ok })
            }
        }
    }

    /// Loop counters for diagnostics.
    pub fn health(&self) -> HealthSample {
        HealthSample {
            t: self.frame.t,
            cycles: self.stats.cycles,
            read_errors: self.stats.read_errors,
            write_errors: self.stats.write_errors,
            clamped: self.clamp.clamped(),
            mode: self.mode,
        }
    }

    /// Chooses this cycle's command according to the mode.
    fn act(&mut self, t: Time) {
        match self.mode {
            ControlMode::Explore => self.explorer.command(t, &mut self.cmd),
            ControlMode::Hold => self.cmd = Command::hold(t),
            ControlMode::External => match self.external_at {
                // a stale operator command must not keep driving the robot: hold instead
                Some(at) if t.0 - at.0 <= self.command_timeout_ns => {
                    self.cmd.clone_from(&self.external);
                    self.cmd.t = t;
                }
                _ => self.cmd = Command::hold(t),
            },
        }
    }

    /// One control cycle. Allocation-free. Returns the frame it read.
    pub fn cycle(&mut self) -> &SensorFrame {
        let t = self.backend.now();
        // 1. sense
        match self.backend.read(t, &mut self.frame) {
            Ok(()) => {
                // 2. fuse
                self.fusion.update(&self.frame);
                // 3. act: exploration, operator command or hold (later: recall-driven actions)
                self.act(t);
            }
            Err(e) => {
                // degrade safely: hold, and keep the loop (and the clock) running
                self.stats.read_errors += 1;
                tracing::warn!(error = %e, "sensor read failed; holding");
                self.cmd = Command::hold(t);
            }
        }
        // 4. clamp: always, between action and backend
        self.clamp
            .apply_measured(&mut self.cmd, &self.frame.joints.position);
        // 5. actuate
        if let Err(e) = self.backend.write(t, &self.cmd) {
            self.stats.write_errors += 1;
            tracing::warn!(error = %e, "command rejected");
        }
        self.account();
        &self.frame
    }

    fn account(&mut self) {
        let s = &mut self.stats;
        s.cycles += 1;
        let touch = self.frame.contacts.iter().copied().fold(0.0, f64::max);
        if touch > TOUCH_THRESHOLD {
            s.touch_cycles += 1;
        }
        s.max_touch = s.max_touch.max(touch);
        if let Some(imu) = &self.frame.imu {
            s.imu_frames += 1;
            s.accel_norm_sum += imu.accel.iter().map(|a| a * a).sum::<f64>().sqrt();
        }
    }

    /// The safety clamp (for its counters).
    pub fn clamp(&self) -> &SafetyClamp {
        &self.clamp
    }
}
