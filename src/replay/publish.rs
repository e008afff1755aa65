//! `sattva replay <bag> --publish`: plays a bag's messages onto ROS 2 topics with their original
//! timing, like `ros2 bag play` (feature `ros2`). Messages go out as the serialized CDR stored in
//! the bag (r2r raw publishing): no decode, no re-encode, bit-exact payloads.
//!
//! The player controls ([`super::controls`]: pause, rate, seek, play_next, burst as rosbag2's
//! player services) are served by the player node on the playing thread: requests are answered
//! between two messages, and `play_next` / `burst` answer once their messages are published.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::executor::LocalPool;
use r2r::sattva_msgs::srv::{
    Burst, GetRate, IsPaused, Pause, PlayNext, Resume, Seek, SetRate, TogglePaused,
};
use r2r::{PublisherUntyped, QosProfile};

use super::controls::{clock_msg, responded, serve_all, time_ns, Control, ControlsError, NODE};

use super::player::{play_range, PaceError, PlayerClock};
use super::reader::{BagMessage, BagReader, ReadOptions};
use super::ReplayError;
use crate::sched::pace::FLAT_OUT;

/// How to play a bag (`sattva replay --publish` options).
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// Multiple of the recorded pace (`<= 0`: as fast as possible).
    pub rate: f64,
    /// Wait this long for subscribers to be discovered before the first message.
    pub delay: Duration,
    /// Start paused (`~/resume`, `~/play_next`, `~/burst` move on).
    pub start_paused: bool,
    /// Publish the playback time on `/clock` at this rate, Hz (None: no clock).
    pub clock_hz: Option<f64>,
    /// Start this many seconds after the bag's start.
    pub start_offset_s: f64,
    /// Play only this many seconds of the bag (from the start offset).
    pub duration_s: Option<f64>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            rate: 1.0,
            delay: Duration::from_secs(1),
            start_paused: false,
            clock_hz: None,
            start_offset_s: 0.0,
            duration_s: None,
        }
    }
}

/// What a publish run did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PublishSummary {
    /// Messages published.
    pub published: u64,
    /// Topics published on.
    pub topics: Vec<String>,
    /// Topics skipped (message type unknown to this ROS 2 installation), with their type.
    pub skipped: Vec<(String, String)>,
    /// Messages the RMW refused.
    pub errors: u64,
    /// Player control requests served.
    pub controls: u64,
}

/// Errors of `--publish`.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bag could not be read.
    #[error(transparent)]
    Bag(#[from] ReplayError),
    /// rcl/r2r failed.
    #[error("ROS 2: {what}: {source}")]
    R2r {
        /// What was being done.
        what: String,
        /// r2r's error.
        #[source]
        source: r2r::Error,
    },
    /// A bad player option.
    #[error("{0}")]
    Option(String),
    /// A bad rate.
    #[error(transparent)]
    Player(#[from] PaceError),
    /// The player services.
    #[error(transparent)]
    Controls(#[from] ControlsError),
}

/// The player: the bag reader, its position, the publishers and the clock.
struct Player<'n> {
    bag: std::path::PathBuf,
    node: &'n mut r2r::Node,
    reader: BagReader,
    next: Option<BagMessage>,
    /// Publishers by topic name (None: type unknown here).
    pubs: HashMap<String, Option<PublisherUntyped>>,
    clock: PlayerClock,
    range: (i64, i64),
    summary: PublishSummary,
}

impl Player<'_> {
    fn open_at(bag: &Path, start: i64) -> Result<(BagReader, Option<BagMessage>), PublishError> {
        let mut r = BagReader::open_with(
            bag,
            &ReadOptions {
                topics: None,
                start: Some(start),
            },
        )?;
        let next = r.next_message();
        Ok((r, next))
    }

    /// The next message within the played range.
    fn pending(&self) -> Option<&BagMessage> {
        self.next.as_ref().filter(|m| m.log_time <= self.range.1)
    }

    /// Publishes the next message and reads the one after. False at the end.
    fn publish_next(&mut self) -> bool {
        let Some(m) = self.next.take().filter(|m| m.log_time <= self.range.1) else {
            return false;
        };
        let topic = &self.reader.topics()[m.topic];
        if !self.pubs.contains_key(&topic.name) {
            // rosbag2 stores "std_msgs/msg/String"; r2r needs the type support of this
            // installation
            let p = match self.node.create_publisher_untyped(
                &topic.name,
                &topic.type_name,
                QosProfile::default(),
            ) {
                Ok(p) => {
                    self.summary.topics.push(topic.name.clone());
                    Some(p)
                }
                Err(e) => {
                    tracing::warn!(topic = %topic.name, r#type = %topic.type_name, error = %e, "type unknown here: topic skipped");
                    self.summary
                        .skipped
                        .push((topic.name.clone(), topic.type_name.clone()));
                    None
                }
            };
            self.pubs.insert(topic.name.clone(), p);
        }
        if let Some(Some(p)) = self.pubs.get(&topic.name) {
            match p.publish_raw(&m.data) {
                Ok(()) => self.summary.published += 1,
                Err(e) => {
                    self.summary.errors += 1;
                    if crate::repeat::logged(self.summary.errors) {
                        tracing::warn!(error = %e, times = self.summary.errors, "publish");
                    }
                }
            }
        }
        self.next = self.reader.next_message();
        true
    }

    fn seek(&mut self, target: i64) -> Result<(), PublishError> {
        if target > self.range.1 {
            return Err(PaceError::SeekPastEnd {
                target,
                end: self.range.1,
            }
            .into());
        }
        let target = target.max(self.range.0);
        let (reader, next) = Self::open_at(&self.bag, target)?;
        self.reader = reader;
        self.next = next;
        self.clock.jump(target);
        Ok(())
    }

    /// Serves one control request.
    fn control(&mut self, c: Control) {
        self.summary.controls += 1;
        responded(match c {
            Control::Pause(req) => {
                self.clock.pause();
                req.respond(Pause::Response::default())
            }
            Control::Resume(req) => {
                self.clock.resume();
                req.respond(Resume::Response::default())
            }
            Control::Toggle(req) => {
                self.clock.toggle();
                req.respond(TogglePaused::Response::default())
            }
            Control::IsPaused(req) => req.respond(IsPaused::Response {
                paused: self.clock.paused(),
            }),
            Control::SetRate(req) => {
                let success = match self.clock.set_rate(req.message.rate) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!("set_rate refused: {e}");
                        false
                    }
                };
                req.respond(SetRate::Response { success })
            }
            Control::GetRate(req) => req.respond(GetRate::Response {
                rate: self.clock.rate(),
            }),
            Control::Seek(req) => {
                let target = time_ns(&req.message.time);
                let success = match self.seek(target) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!("seek refused: {e}");
                        false
                    }
                };
                req.respond(Seek::Response { success })
            }
            Control::PlayNext(req) => {
                // as rosbag2: only while paused; the clock moves to the message played
                let at = self.pending().map(|m| m.log_time);
                let success = self.clock.paused() && self.publish_next();
                if let (true, Some(t)) = (success, at) {
                    self.clock.jump(t);
                }
                req.respond(PlayNext::Response { success })
            }
            Control::Burst(req) => {
                let mut n = 0u64;
                if self.clock.paused() {
                    while n < req.message.num_messages {
                        let at = self.pending().map(|m| m.log_time);
                        if !self.publish_next() {
                            break;
                        }
                        if let Some(t) = at {
                            self.clock.jump(t);
                        }
                        n += 1;
                    }
                }
                req.respond(Burst::Response { actually_burst: n })
            }
        })
    }
}

/// Publishes the messages of `bag` as `opts` says, serving the player controls, until the end of
/// the played range.
pub fn publish_bag(bag: &Path, opts: &PublishOptions) -> Result<PublishSummary, PublishError> {
    // the played range: the bag's declared span, else from its first message
    let probe = BagReader::open(bag)?;
    let declared = probe.declared_time_range();
    drop(probe);
    let (first, last) = match declared {
        Some(r) => r,
        None => {
            let (_, m) = Player::open_at(bag, i64::MIN)?;
            (m.map(|m| m.log_time).unwrap_or(0), i64::MAX)
        }
    };
    let range = play_range(first, last, opts.start_offset_s, opts.duration_s)
        .map_err(PublishError::Option)?;
    let rate = if opts.rate > 0.0 { opts.rate } else { FLAT_OUT };
    let clock = PlayerClock::new(range.0, rate, opts.start_paused)?;
    if let Some(hz) = opts.clock_hz {
        if !(hz.is_finite() && hz > 0.0) {
            return Err(PublishError::Option(format!(
                "--clock {hz}: expected a rate in Hz > 0"
            )));
        }
    }
    let (reader, next) = Player::open_at(bag, range.0)?;

    let ctx = r2r::Context::create().map_err(|source| PublishError::R2r {
        what: "create context".into(),
        source,
    })?;
    let mut node = r2r::Node::create(ctx, NODE, "").map_err(|source| PublishError::R2r {
        what: "create node".into(),
        source,
    })?;
    let mut pool = LocalPool::new();
    let queue = serve_all(&mut node, &pool)?;
    let clock_pub = match opts.clock_hz {
        Some(_) => Some(
            node.create_publisher::<r2r::rosgraph_msgs::msg::Clock>(
                "/clock",
                QosProfile::default().keep_last(1),
            )
            .map_err(|source| PublishError::R2r {
                what: "publisher /clock".into(),
                source,
            })?,
        ),
        None => None,
    };
    let clock_period = opts
        .clock_hz
        .map(|hz| Duration::from_secs_f64(1.0 / hz))
        .unwrap_or(Duration::MAX);

    // discovery: publishers for the bag's declared topics first, then wait for subscribers
    let mut player = Player {
        bag: bag.to_path_buf(),
        node: &mut node,
        reader,
        next,
        pubs: HashMap::new(),
        clock,
        range,
        summary: PublishSummary::default(),
    };
    let declared_topics: Vec<(String, String)> = player
        .reader
        .topics()
        .iter()
        .map(|t| (t.name.clone(), t.type_name.clone()))
        .collect();
    for (name, type_name) in declared_topics {
        let p = match player
            .node
            .create_publisher_untyped(&name, &type_name, QosProfile::default())
        {
            Ok(p) => {
                player.summary.topics.push(name.clone());
                Some(p)
            }
            Err(e) => {
                tracing::warn!(topic = %name, r#type = %type_name, error = %e, "type unknown here: topic skipped");
                player.summary.skipped.push((name.clone(), type_name));
                None
            }
        };
        player.pubs.insert(name, p);
    }
    let t_end = Instant::now() + opts.delay;
    while Instant::now() < t_end {
        player.node.spin_once(Duration::from_millis(10));
        pool.run_until_stalled();
    }
    // the clock starts when the messages do (a paused start stays where it is)
    player.clock.jump(range.0);
    let mut next_clock = Instant::now();
    let mut since_spin = 0u32;
    loop {
        // control requests first: they take effect before the next message
        pool.run_until_stalled();
        loop {
            let c = queue.borrow_mut().pop_front();
            let Some(c) = c else { break };
            player.control(c);
        }
        if let Some(p) = &clock_pub {
            if Instant::now() >= next_clock {
                next_clock = Instant::now() + clock_period;
                if let Err(e) = p.publish(&clock_msg(player.clock.now())) {
                    tracing::debug!(error = %e, "/clock");
                }
            }
        }
        let due = match player.pending() {
            None => break, // the end of the played range
            Some(m) => player.clock.until(m.log_time),
        };
        match due {
            Some(d) if d.is_zero() => {
                player.publish_next();
                since_spin += 1;
                if since_spin >= 16 {
                    since_spin = 0;
                    player.node.spin_once(Duration::ZERO);
                }
            }
            Some(d) => {
                since_spin = 0;
                player.node.spin_once(d.min(Duration::from_millis(5)));
            }
            None => {
                // paused: wait for controls
                since_spin = 0;
                player.node.spin_once(Duration::from_millis(5));
            }
        }
    }
    // let the last messages leave before the node goes away
    let t_end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < t_end {
        player.node.spin_once(Duration::from_millis(10));
    }
    Ok(player.summary)
}
