//! `sattva replay <bag> --publish`: plays a bag's messages onto ROS 2 topics with their original
//! timing, like `ros2 bag play` (feature `ros2`). Messages go out as the serialized CDR stored in
//! the bag (r2r raw publishing): no decode, no re-encode, bit-exact payloads.

use std::path::Path;
use std::time::{Duration, Instant};

use r2r::QosProfile;

use super::reader::BagReader;
use super::ReplayError;

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
}

/// Publishes every message of `bag` at `rate` x its recorded timing (`rate <= 0`: as fast as
/// possible), after waiting `delay` for subscribers to be discovered.
pub fn publish_bag(bag: &Path, rate: f64, delay: Duration) -> Result<PublishSummary, PublishError> {
    // streamed: memory stays bounded whatever the bag's size (warnings are logged as met)
    let mut b = BagReader::open(bag)?;
    let ctx = r2r::Context::create().map_err(|source| PublishError::R2r {
        what: "create context".into(),
        source,
    })?;
    let mut node =
        r2r::Node::create(ctx, "sattva_bag_player", "").map_err(|source| PublishError::R2r {
            what: "create node".into(),
            source,
        })?;
    let mut summary = PublishSummary::default();
    let mut pubs = Vec::with_capacity(b.topics().len());
    for t in b.topics() {
        // rosbag2 stores "std_msgs/msg/String"; r2r needs the type support of this installation
        match node.create_publisher_untyped(&t.name, &t.type_name, QosProfile::default()) {
            Ok(p) => {
                summary.topics.push(t.name.clone());
                pubs.push(Some(p));
            }
            Err(e) => {
                tracing::warn!(topic = %t.name, r#type = %t.type_name, error = %e, "type unknown here: topic skipped");
                summary.skipped.push((t.name.clone(), t.type_name.clone()));
                pubs.push(None);
            }
        }
    }
    let t_end = Instant::now() + delay;
    while Instant::now() < t_end {
        node.spin_once(Duration::from_millis(10));
    }
    let mut t0_log = None;
    let wall0 = Instant::now();
    while let Some(m) = b.next_message() {
        let t0_log = *t0_log.get_or_insert(m.log_time);
        if rate > 0.0 {
            let due = Duration::from_nanos(((m.log_time - t0_log).max(0) as f64 / rate) as u64);
            let elapsed = wall0.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
        if let Some(Some(p)) = pubs.get(m.topic) {
            match p.publish_raw(&m.data) {
                Ok(()) => summary.published += 1,
                Err(e) => {
                    summary.errors += 1;
                    if crate::repeat::logged(summary.errors) {
                        tracing::warn!(error = %e, times = summary.errors, "publish");
                    }
                }
            }
        }
        node.spin_once(Duration::ZERO);
    }
    // let the last messages leave before the node goes away
    let t_end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < t_end {
        node.spin_once(Duration::from_millis(10));
    }
    Ok(summary)
}
