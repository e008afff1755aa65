//! Experiences cut from the control stream, in the RT control task (no allocation, no locks).
//!
//! Two ways to cut, one [`Segmenter`]:
//! * **windows** ([`Mark::Free`]): every `learn.window_ms` a segment ends and the next begins
//!   where it ended (exploration, operator commands, a replayed log);
//! * **episodes** ([`Mark::Begin`] .. [`Mark::End`]): the command source says where an
//!   experience starts and ends (a curriculum's primitive), and tags it (label, role).
//!
//! Either way a segment carries the fused state at its start and end, the mean position command
//! in between, the sensed joint trajectory profile (per phase bin, the joint displacement from
//! the start) and the touch profile (largest contact force per bin), and the newest visual
//! descriptors at its ends.

pub use crate::action::{Mark, Role, Tag};
use crate::fusion::FusedState;
use crate::types::{Command, CommandMode, JointVec, MAX_JOINTS};
use crate::vision::Descriptor;

/// Most phase bins of a trajectory profile.
pub const MAX_BINS: usize = crate::encode::MAX_PROFILE_BINS;

/// One experience as cut from the control stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Fused state at the start.
    pub before: FusedState,
    /// Mean position command in between (hold when the loop mostly held).
    pub cmd: Command,
    /// Fused state at the end.
    pub after: FusedState,
    /// The newest visual descriptors at the start and end (vision task), if any.
    pub visual: Option<(Descriptor, Descriptor)>,
    /// The episode's tag (windows: none).
    pub tag: Option<Tag>,
    /// Phase bins in the profiles.
    pub bins: usize,
    /// Joints in the trajectory profile.
    pub joints: usize,
    /// Trajectory profile: `traj[bin * joints + j]` = joint j's displacement from the start.
    pub traj: [f32; MAX_BINS * MAX_JOINTS],
    /// Command profile: `act[bin * joints + j]` = joint j's commanded position minus its
    /// sensed position at the start (cycles that did not command positions: the sensed
    /// displacement).
    pub act: [f32; MAX_BINS * MAX_JOINTS],
    /// Touch profile: largest contact force per bin, N.
    pub touch: [f32; MAX_BINS],
}

impl Default for Segment {
    fn default() -> Self {
        Segment {
            before: FusedState::default(),
            cmd: Command::default(),
            after: FusedState::default(),
            visual: None,
            tag: None,
            bins: 1,
            joints: 0,
            traj: [0.0; MAX_BINS * MAX_JOINTS],
            act: [0.0; MAX_BINS * MAX_JOINTS],
            touch: [0.0; MAX_BINS],
        }
    }
}

impl Segment {
    /// The trajectory profile's used part.
    pub fn trajectory(&self) -> &[f32] {
        &self.traj[..self.bins * self.joints]
    }

    /// The command profile's used part (`bins * joints` values, see [`Segment::act`]).
    pub fn command_profile(&self) -> &[f32] {
        &self.act[..self.bins * self.joints]
    }

    /// The touch profile's used part.
    pub fn touch_profile(&self) -> &[f32] {
        &self.touch[..self.bins]
    }

    fn record(&mut self, s: &FusedState, cmd: &Command, phase: f64) {
        let bins = self.bins;
        let b = ((phase * bins as f64) as usize).min(bins - 1);
        let nj = self.joints;
        let commanded = cmd.mode == CommandMode::Position;
        for j in 0..nj {
            let q0 = self.before.joint_position.get(j).copied().unwrap_or(0.0);
            let d = s.joint_position.get(j).copied().unwrap_or(0.0) - q0;
            let a = match cmd.values.get(j) {
                Some(&v) if commanded && v.is_finite() => v - q0,
                _ => d,
            };
            // later bins keep the last value until they are reached: fill forward
            for k in b..bins {
                self.traj[k * nj + j] = d as f32;
                self.act[k * nj + j] = a as f32;
            }
        }
        let f = s.contact_force.iter().copied().fold(0.0, f64::max) as f32;
        self.touch[b] = self.touch[b].max(f);
    }
}

/// Cuts the control stream into [`Segment`]s. Runs in the RT control task.
#[derive(Clone, Debug)]
pub struct Segmenter {
    window: u64,
    bins: usize,
    /// An orientation is required for an experience (the backend has an IMU).
    need_orientation: bool,
    n: u64,
    seg: Segment,
    started: bool,
    emitted: bool,
    episode: bool,
    sum: JointVec,
    position_cycles: u64,
}

impl Segmenter {
    /// A segmenter cutting windows of `window` cycles (at least 1) with profiles of `bins`
    /// phase bins (1..=[`MAX_BINS`]). With `need_orientation`, cycles without a valid
    /// orientation restart the window (the backend has an IMU that has not converged).
    pub fn new(window: u64, bins: usize, need_orientation: bool) -> Segmenter {
        Segmenter {
            window: window.max(1),
            bins: bins.clamp(1, MAX_BINS),
            need_orientation,
            n: 0,
            seg: Segment::default(),
            started: false,
            emitted: false,
            episode: false,
            sum: JointVec::new(),
            position_cycles: 0,
        }
    }

    /// Cycles per window from a window in ms and the control period in ns.
    pub fn cycles(window_ms: u32, period_ns: i64) -> u64 {
        (window_ms as i64 * 1_000_000 / period_ns.max(1)).max(1) as u64
    }

    /// Drops the experience under way (the world was reset under it).
    pub fn restart(&mut self) {
        self.started = false;
        self.emitted = false;
        self.episode = false;
    }

    fn begin(&mut self, s: &FusedState, visual: Option<&Descriptor>, tag: Option<Tag>) {
        self.seg.before.clone_from(s);
        self.seg.visual = visual.map(|d| (*d, *d));
        self.seg.tag = tag;
        self.seg.bins = self.bins;
        self.seg.joints = s.joint_position.len().min(MAX_JOINTS);
        self.seg.traj[..self.bins * self.seg.joints].fill(0.0);
        self.seg.act[..self.bins * self.seg.joints].fill(0.0);
        self.seg.touch[..self.bins].fill(0.0);
        self.started = true;
        self.n = 0;
        self.sum.clear();
        self.position_cycles = 0;
    }

    fn add_command(&mut self, cmd: &Command) {
        self.n += 1;
        if cmd.mode == CommandMode::Position && !cmd.values.is_empty() {
            if self.sum.len() != cmd.values.len() {
                self.sum.clear();
                self.sum.extend(cmd.values.iter().map(|_| 0.0));
                self.position_cycles = 0;
            }
            for (a, v) in self.sum.iter_mut().zip(cmd.values.iter()) {
                *a += v;
            }
            self.position_cycles += 1;
        }
    }

    fn finish(&mut self, s: &FusedState, visual: Option<&Descriptor>) -> &Segment {
        self.seg.after.clone_from(s);
        match (&mut self.seg.visual, visual) {
            (Some((_, a)), Some(d)) => *a = *d,
            (v @ None, Some(d)) => *v = Some((*d, *d)), // the first frame arrived mid-way
            _ => {}
        }
        self.seg.cmd.t = s.t;
        self.seg.cmd.values.clear();
        // the mean position target when the loop mostly commanded positions, else hold
        if self.position_cycles * 2 >= self.n && !self.sum.is_empty() {
            self.seg.cmd.mode = CommandMode::Position;
            let k = 1.0 / self.position_cycles as f64;
            self.seg.cmd.values.extend(self.sum.iter().map(|a| a * k));
        } else {
            self.seg.cmd.mode = CommandMode::Hold;
        }
        self.n = 0;
        self.sum.iter_mut().for_each(|a| *a = 0.0);
        self.position_cycles = 0;
        &self.seg
    }

    /// Feeds one cycle (fused state, the command as it went to the backend, the newest visual
    /// descriptor, the source's mark); returns the finished segment when one ends here.
    pub fn push(
        &mut self,
        s: &FusedState,
        cmd: &Command,
        visual: Option<&Descriptor>,
        mark: Mark,
    ) -> Option<&Segment> {
        if self.need_orientation && !s.validity.orientation {
            self.restart();
            return None;
        }
        match mark {
            Mark::Pause => {
                self.restart();
                None
            }
            Mark::Begin(tag) => {
                self.begin(s, visual, Some(tag));
                self.episode = true;
                self.add_command(cmd);
                self.seg.record(s, cmd, 0.0);
                None
            }
            Mark::Within(phase) | Mark::End(phase) => {
                if !(self.started && self.episode) {
                    return None; // an episode whose start was not seen is not an experience
                }
                self.add_command(cmd);
                self.seg.record(s, cmd, phase);
                if matches!(mark, Mark::End(_)) {
                    self.started = false;
                    self.episode = false;
                    return Some(self.finish(s, visual));
                }
                None
            }
            Mark::Free => {
                if self.episode {
                    self.restart();
                }
                if self.emitted {
                    // the next window starts where the last one ended
                    let after = std::mem::take(&mut self.seg.after);
                    let visual_after = self.seg.visual.map(|(_, a)| a);
                    self.begin(&after, visual_after.as_ref(), None);
                    self.seg.after = after;
                    self.emitted = false;
                }
                if !self.started {
                    self.begin(s, visual, None);
                    return None;
                }
                self.add_command(cmd);
                self.seg.record(s, cmd, self.n as f64 / self.window as f64);
                if self.n < self.window {
                    return None;
                }
                self.emitted = true;
                Some(self.finish(s, visual))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Time;

    fn state(t: i64, q: f64) -> FusedState {
        let mut s = FusedState {
            t: Time(t),
            ..Default::default()
        };
        s.validity.orientation = true;
        s.joint_position.push(q);
        s
    }

    fn pos(v: f64) -> Command {
        let mut c = Command::hold(Time::ZERO);
        c.mode = CommandMode::Position;
        c.values.push(v);
        c
    }

    #[test]
    fn windows_with_mean_command_and_profile() {
        let mut s = Segmenter::new(4, 4, true);
        assert!(s
            .push(&state(0, 0.0), &pos(1.0), None, Mark::Free)
            .is_none()); // start
        for i in 1..4 {
            assert!(s
                .push(&state(i, i as f64), &pos(i as f64), None, Mark::Free)
                .is_none());
        }
        let seg = s
            .push(&state(4, 4.0), &pos(4.0), None, Mark::Free)
            .cloned()
            .unwrap();
        assert_eq!(seg.before.t, Time(0));
        assert_eq!(seg.after.t, Time(4));
        assert_eq!(seg.cmd.mode, CommandMode::Position);
        assert!((seg.cmd.values[0] - 2.5).abs() < 1e-12); // mean of 1..=4
                                                          // displacement from the start per phase bin: 1/4 -> bin 1 ... 4/4 -> bin 3 (clamped)
        assert_eq!(seg.trajectory(), &[0.0, 1.0, 2.0, 4.0]);
        // the next window starts at the previous end
        for i in 5..8 {
            assert!(s
                .push(&state(i, 4.0), &Command::hold(Time(i)), None, Mark::Free)
                .is_none());
        }
        let seg = s
            .push(&state(8, 4.0), &Command::hold(Time(8)), None, Mark::Free)
            .cloned()
            .unwrap();
        assert_eq!(seg.before.t, Time(4));
        assert_eq!(seg.cmd.mode, CommandMode::Hold);
        assert_eq!(seg.trajectory(), &[0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn invalid_orientation_restarts_the_window_only_when_required() {
        let mut s = Segmenter::new(2, 1, true);
        s.push(&state(0, 0.0), &pos(0.0), None, Mark::Free);
        s.push(&state(1, 0.0), &pos(0.0), None, Mark::Free);
        let mut bad = state(2, 0.0);
        bad.validity.orientation = false;
        assert!(s.push(&bad, &pos(0.0), None, Mark::Free).is_none());
        assert!(s
            .push(&state(3, 0.0), &pos(0.0), None, Mark::Free)
            .is_none()); // new start
        assert!(s
            .push(&state(4, 0.0), &pos(0.0), None, Mark::Free)
            .is_none());
        assert_eq!(
            s.push(&state(5, 0.0), &pos(0.0), None, Mark::Free)
                .map(|g| g.before.t),
            Some(Time(3))
        );
        // a robot without an IMU: orientation is never valid, windows still come
        let mut s = Segmenter::new(2, 1, false);
        let mut emitted = 0;
        for i in 0..9 {
            let mut st = state(i, 0.0);
            st.validity.orientation = false;
            emitted += s.push(&st, &pos(0.0), None, Mark::Free).is_some() as u32;
        }
        assert_eq!(emitted, 4);
    }

    #[test]
    fn episodes_are_cut_by_marks_and_tagged() {
        let mut s = Segmenter::new(1000, 2, true);
        let tag = Tag {
            label: "lift",
            role: Role::Learn,
            episode: 3,
        };
        assert!(s
            .push(&state(0, 9.0), &pos(9.0), None, Mark::Pause)
            .is_none());
        assert!(s
            .push(&state(1, 1.0), &pos(1.0), None, Mark::Begin(tag))
            .is_none());
        assert!(s
            .push(&state(2, 2.0), &pos(3.0), None, Mark::Within(0.5))
            .is_none());
        let seg = s
            .push(&state(3, 4.0), &pos(5.0), None, Mark::End(1.0))
            .cloned()
            .unwrap();
        assert_eq!(seg.tag, Some(tag));
        assert_eq!((seg.before.t, seg.after.t), (Time(1), Time(3)));
        assert!((seg.cmd.values[0] - 3.0).abs() < 1e-12);
        assert_eq!(seg.trajectory(), &[0.0, 3.0]);
        // what was commanded, relative to the sensed start (1.0): 1 - 1 in bin 0; 3 - 1 at
        // phase 0.5, then 5 - 1 at phase 1 (the bin keeps its last value)
        assert_eq!(seg.command_profile(), &[0.0, 4.0]);
        // an end without its beginning is not an experience
        assert!(s
            .push(&state(4, 0.0), &pos(0.0), None, Mark::End(1.0))
            .is_none());
    }
}
