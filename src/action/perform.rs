//! Perform: act from what was learned. An attractor's action memory (what its experiences
//! commanded, per phase bin, relative to the start state; see `substrate::ActionMemory`) is
//! played back from the current pose (retargeted: offsets from where the robot stands now) over
//! the attractor's mean duration divided by a speed factor, as the control loop's command -
//! through the same safety clamp as every other command. The cycles of the performance form one
//! experience, tagged [`Role::Perform`] with the requested attractor's label: the learn task
//! recognises it (without learning) and reports what it was recognised as.
//!
//! A [`PerformGoal`] is a fixed-size value (it crosses the ROS -> control ring); the
//! [`Performer`] runs in the RT control task and allocates nothing.

use super::{Mark, Prepare, Role, Tag};
use crate::backend::EpisodeSetup;
use crate::encode::MAX_PROFILE_BINS;
use crate::substrate::ActionMemory;
use crate::types::{Command, CommandMode, JointVec, Time, MAX_JOINTS};

/// Most values of a performance profile.
pub const MAX_PROFILE: usize = MAX_PROFILE_BINS * MAX_JOINTS;

/// Why a performance cannot be made from an action memory.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PerformError {
    /// The speed factor is not a positive finite number.
    #[error("perform: speed {0} must be a positive finite number (1 = the attractor's own pace)")]
    Speed(f64),
    /// The memory does not fit a fixed-size profile.
    #[error("perform: action memory of {bins} bins x {joints} joints exceeds {MAX_PROFILE_BINS} x {MAX_JOINTS}")]
    Shape {
        /// Bins of the memory.
        bins: u32,
        /// Joints of the memory.
        joints: u32,
    },
    /// The duration at this speed is shorter than two control periods.
    #[error("perform: duration {0:.4} s is too short to perform")]
    Duration(f64),
}

/// A performance to run: an attractor's action memory as a fixed-size value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerformGoal {
    /// Who asked (a ROS goal's number, an evaluation trial); echoed in the experience's tag.
    pub id: u32,
    /// The requested attractor.
    pub attractor: u32,
    /// Its label (the experience's tag; may be empty).
    pub label: &'static str,
    /// Phase bins of the profile.
    pub bins: usize,
    /// Joints per bin.
    pub joints: usize,
    /// Duration of the performance, ns.
    pub duration_ns: i64,
    /// `profile[bin * joints + j]`: joint j's target relative to the start pose at the end of
    /// phase bin `bin`.
    pub profile: [f32; MAX_PROFILE],
}

impl PerformGoal {
    /// The performance of attractor `attractor`'s action memory `mem` at `speed` (1 = its mean
    /// duration, 2 = twice as fast), at least two control periods of `period_ns` long.
    pub fn new(
        id: u32,
        attractor: u32,
        label: &'static str,
        mem: &ActionMemory,
        speed: f64,
        period_ns: i64,
    ) -> Result<PerformGoal, PerformError> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(PerformError::Speed(speed));
        }
        let (bins, joints) = (mem.bins as usize, mem.joints as usize);
        if bins == 0 || bins > MAX_PROFILE_BINS || joints > MAX_JOINTS {
            return Err(PerformError::Shape {
                bins: mem.bins,
                joints: mem.joints,
            });
        }
        let d = mem.duration_s as f64 / speed;
        if !(d.is_finite() && d * 1e9 >= 2.0 * period_ns.max(1) as f64) {
            return Err(PerformError::Duration(d));
        }
        let mut profile = [0.0f32; MAX_PROFILE];
        let n = (bins * joints).min(mem.profile.len());
        profile[..n].copy_from_slice(&mem.profile[..n]);
        Ok(PerformGoal {
            id,
            attractor,
            label,
            bins,
            joints,
            duration_ns: (d * 1e9) as i64,
            profile,
        })
    }

    /// Joint `j`'s offset from the start pose at `phase` in `[0, 1]`: linear between the bins'
    /// ends (`(b + 1) / bins`), from 0 at phase 0.
    pub fn offset(&self, j: usize, phase: f64) -> f64 {
        if j >= self.joints {
            return 0.0;
        }
        let x = phase.clamp(0.0, 1.0) * self.bins as f64;
        let k = (x.floor() as usize).min(self.bins); // point k is at phase k / bins
        let at = |k: usize| {
            if k == 0 {
                0.0
            } else {
                self.profile[(k - 1) * self.joints + j] as f64
            }
        };
        if k >= self.bins {
            return at(self.bins);
        }
        let f = x - k as f64;
        at(k) + f * (at(k + 1) - at(k))
    }
}

/// How a performance ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PerformEnd {
    /// Played to the end (its experience goes to the learn task).
    Completed,
    /// Cancelled (the loop holds).
    Cancelled,
}

#[derive(Clone, Copy, Debug)]
enum State {
    Idle,
    /// Starts at the next command (the start pose is read then).
    Pending(PerformGoal),
    Playing(PerformGoal, Time),
}

/// Plays [`PerformGoal`]s as the control loop's command source. Allocation-free.
#[derive(Clone, Debug)]
pub struct Performer {
    state: State,
    start: JointVec,
    period_ns: i64,
    /// The last performance that ended, and how (taken by [`Performer::take_ended`]).
    ended: Option<(u32, PerformEnd)>,
}

impl Performer {
    /// A performer for a control period of `period_ns`.
    pub fn new(period_ns: i64) -> Performer {
        Performer {
            state: State::Idle,
            start: JointVec::new(),
            period_ns: period_ns.max(1),
            ended: None,
        }
    }

    /// Starts `goal` at the next command (a performance under way is cancelled).
    pub fn start(&mut self, goal: PerformGoal) {
        self.cancel();
        self.state = State::Pending(goal);
    }

    /// Cancels the performance under way; returns its id.
    pub fn cancel(&mut self) -> Option<u32> {
        let id = match self.state {
            State::Idle => return None,
            State::Pending(g) | State::Playing(g, _) => g.id,
        };
        self.state = State::Idle;
        self.ended = Some((id, PerformEnd::Cancelled));
        Some(id)
    }

    /// True while a performance is pending or under way.
    pub fn active(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// The performance under way: `(id, phase at t)`.
    pub fn progress(&self, t: Time) -> Option<(u32, f64)> {
        match self.state {
            State::Idle => None,
            State::Pending(g) => Some((g.id, 0.0)),
            State::Playing(g, t0) => Some((g.id, phase(&g, t0, t))),
        }
    }

    /// The last performance that ended and how (once).
    pub fn take_ended(&mut self) -> Option<(u32, PerformEnd)> {
        self.ended.take()
    }

    /// This cycle's command at time `t` from joint positions `q` (fused), and where the cycle
    /// stands in the performance's experience; [`Mark::Free`] when idle (cmd untouched).
    pub fn command(&mut self, t: Time, q: &[f64], cmd: &mut Command) -> Mark {
        let (g, t0, first) = match self.state {
            State::Idle => return Mark::Free,
            State::Pending(g) => {
                // retarget: offsets from where the robot stands now
                self.start.clear();
                self.start.extend(q.iter().copied());
                self.state = State::Playing(g, t);
                (g, t, true)
            }
            State::Playing(g, t0) => (g, t0, false),
        };
        let p = phase(&g, t0, t);
        cmd.t = t;
        cmd.mode = CommandMode::Position;
        cmd.values.clear();
        for (j, &s) in self.start.iter().enumerate() {
            cmd.values.push(s + g.offset(j, p));
        }
        if first {
            return Mark::Begin(Tag {
                label: g.label,
                role: Role::Perform,
                episode: g.id,
            });
        }
        if t.0 + self.period_ns >= t0.0 + g.duration_ns {
            self.state = State::Idle;
            self.ended = Some((g.id, PerformEnd::Completed));
            return Mark::End(p);
        }
        Mark::Within(p)
    }
}

/// One evaluation trial: the world's setup, the start pose (`eval.start_pose`'s factor, see
/// `curriculum::start_pose`) and the performance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PerformTrial {
    /// The performance.
    pub goal: PerformGoal,
    /// The world (object position and mass, noise seed).
    pub setup: EpisodeSetup,
    /// Start pose factor.
    pub start: f64,
}

#[derive(Clone, Copy, Debug)]
enum TrialPhase {
    Setup,
    Settling(Time),
    Performing,
    Finished,
}

/// A plan of performances as the control loop's command source (`sattva eval perform`): per
/// trial the world is set up, the robot moves to the trial's start pose and holds for
/// `settle_ns`, then the [`Performer`] plays the goal from where the robot stands. Allocates only
/// at construction.
#[derive(Debug)]
pub struct PerformSource {
    trials: Vec<PerformTrial>,
    next: usize,
    phase: TrialPhase,
    settle_ns: i64,
    limits: Vec<(f64, f64)>,
    home: Option<JointVec>,
    start: JointVec,
    performer: Performer,
}

impl PerformSource {
    /// Performs `trials` in order (joint `limits` bound the start poses) at `period_ns`.
    pub fn new(
        trials: Vec<PerformTrial>,
        limits: Vec<(f64, f64)>,
        settle_s: f64,
        period_ns: i64,
    ) -> PerformSource {
        let period_ns = period_ns.max(1);
        PerformSource {
            trials,
            next: 0,
            phase: TrialPhase::Setup,
            settle_ns: (settle_s * 1e9 / period_ns as f64).round() as i64 * period_ns,
            limits,
            home: None,
            start: JointVec::new(),
            performer: Performer::new(period_ns),
        }
    }

    /// The trials, in order.
    pub fn trials(&self) -> &[PerformTrial] {
        &self.trials
    }

    /// Called at the start of a cycle, before the sensors are read.
    pub fn prepare(&mut self, t: Time) -> Prepare {
        match self.phase {
            TrialPhase::Setup => match self.trials.get(self.next) {
                Some(tr) => {
                    self.phase = TrialPhase::Settling(t.add_nanos(self.settle_ns));
                    self.start.clear();
                    Prepare::Setup(tr.setup)
                }
                None => {
                    self.phase = TrialPhase::Finished;
                    Prepare::Finished
                }
            },
            TrialPhase::Finished => Prepare::Finished,
            _ => Prepare::Nothing,
        }
    }

    /// This cycle's command from joint positions `q` and where it stands in the trial.
    pub fn command(&mut self, t: Time, q: &[f64], cmd: &mut Command) -> Mark {
        match self.phase {
            TrialPhase::Settling(begin) => {
                if self.start.is_empty() && !q.is_empty() {
                    let home = self.home.get_or_insert_with(|| q.iter().copied().collect());
                    let tr = &self.trials[self.next];
                    super::curriculum::start_pose(
                        home,
                        &self.limits,
                        tr.start,
                        tr.setup.seed,
                        &mut self.start,
                    );
                }
                if t < begin || self.start.is_empty() {
                    if self.start.is_empty() {
                        *cmd = Command::hold(t);
                    } else {
                        cmd.t = t;
                        cmd.mode = CommandMode::Position;
                        cmd.values.clear();
                        cmd.values.extend(self.start.iter().copied());
                    }
                    return Mark::Pause;
                }
                self.performer.start(self.trials[self.next].goal);
                let _ = self.performer.take_ended();
                self.phase = TrialPhase::Performing;
                self.performer.command(t, q, cmd)
            }
            TrialPhase::Performing => {
                let m = self.performer.command(t, q, cmd);
                if !self.performer.active() {
                    self.next += 1;
                    self.phase = TrialPhase::Setup;
                }
                m
            }
            _ => {
                *cmd = Command::hold(t);
                Mark::Pause
            }
        }
    }
}

fn phase(g: &PerformGoal, t0: Time, t: Time) -> f64 {
    ((t.0 - t0.0) as f64 / g.duration_ns.max(1) as f64).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goal(profile: &[f32], bins: u32, joints: u32, duration_s: f32) -> PerformGoal {
        let m = ActionMemory::new(bins as usize, joints as usize, duration_s, profile).unwrap();
        PerformGoal::new(7, 3, "lift", &m, 1.0, 10_000_000).unwrap()
    }

    #[test]
    fn offsets_interpolate_between_bin_ends() {
        let g = goal(&[1.0, 10.0, 2.0, 20.0], 2, 2, 1.0);
        assert_eq!(g.offset(0, 0.0), 0.0);
        assert_eq!(g.offset(0, 0.25), 0.5);
        assert_eq!(g.offset(0, 0.5), 1.0);
        assert_eq!(g.offset(1, 0.75), 15.0);
        assert_eq!(g.offset(1, 1.0), 20.0);
        assert_eq!(g.offset(2, 0.5), 0.0); // a joint beyond the profile holds
    }

    #[test]
    fn bad_requests_are_errors() {
        let m = ActionMemory::new(1, 1, 1.0, &[1.0]).unwrap();
        assert_eq!(
            PerformGoal::new(0, 0, "", &m, 0.0, 1).err(),
            Some(PerformError::Speed(0.0))
        );
        assert!(PerformGoal::new(0, 0, "", &m, f64::NAN, 1).is_err());
        assert!(matches!(
            PerformGoal::new(0, 0, "", &m, 1e6, 2_000_000),
            Err(PerformError::Duration(_))
        ));
    }

    #[test]
    fn plays_from_the_current_pose_and_marks_one_experience() {
        // 1 s at 10 ms: 100 cycles; joint 0 rises by 1 rad, joint 1 by 0
        let g = goal(&[0.5, 0.0, 1.0, 0.0], 2, 2, 1.0);
        let mut p = Performer::new(10_000_000);
        let mut cmd = Command::default();
        assert_eq!(p.command(Time(0), &[0.3, -0.2], &mut cmd), Mark::Free);
        p.start(g);
        let q = [0.3, -0.2];
        let mut marks = Vec::new();
        let mut t = 0;
        while p.active() {
            marks.push(p.command(Time(t), &q, &mut cmd));
            t += 10_000_000;
        }
        assert!(matches!(
            marks[0],
            Mark::Begin(Tag {
                label: "lift",
                role: Role::Perform,
                episode: 7
            })
        ));
        assert!(matches!(marks.last(), Some(Mark::End(_))));
        assert_eq!(marks.len(), 100);
        // the last command: start + the full offset
        assert_eq!(cmd.mode, CommandMode::Position);
        assert!(
            (cmd.values[0] - (0.3 + 0.99)).abs() < 1e-9,
            "{:?}",
            cmd.values
        );
        assert!((cmd.values[1] + 0.2).abs() < 1e-9);
        assert_eq!(p.take_ended(), Some((7, PerformEnd::Completed)));
        // cancel
        p.start(g);
        p.command(Time(0), &q, &mut cmd);
        assert_eq!(p.cancel(), Some(7));
        assert!(!p.active());
        assert_eq!(p.take_ended(), Some((7, PerformEnd::Cancelled)));
    }
}
