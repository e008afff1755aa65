//! librealsense and ROS 2 in ONE process. The librealsense that setup extracts from the
//! `pyrealsense2` wheel embeds its own Fast DDS; linked normally next to ROS 2's libfastrtps the
//! symbols interpose and the process crashes. The backend opens librealsense with
//! `RTLD_LOCAL | RTLD_DEEPBIND` (src/backend/realsense/sys.rs). This test runs a real r2r
//! publisher and subscriber (Fast DDS, localhost discovery, a domain id of its own) for the whole
//! time while librealsense records a `.bag` through its software device and the backend plays it
//! back: ROS messages must keep flowing before, during and after, and the playback must deliver
//! every IMU sample and RGB-D frame with its exact timestamp.
#![cfg(all(feature = "ros2", feature = "realsense"))]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use futures::task::LocalSpawnExt;
use futures::StreamExt;
use sattva::backend::realsense::software::{merged_schedule, BagWriter, SynthStreams, SynthVideo};
use sattva::backend::realsense::RealsenseBackend;
use sattva::backend::{Backend, BackendError};
use sattva::config::Config;
use sattva::types::{Command, RgbdFrame, SensorFrame, Time};

const W: u32 = 8;
const H: u32 = 6;
const T0_MS: f64 = 1000.0;
const SPAN_MS: f64 = 1000.0;
const VIDEO_DT_MS: f64 = 40.0; // 26 frames
const GYRO_DT_MS: f64 = 2.5; // 400 Hz: 401 samples
const ACCEL_DT_MS: f64 = 5.0; // 200 Hz: 201 samples, the last at the end: every gyro sample pairs

/// Messages the subscriber got: (sequence number, when).
type Received = Arc<Mutex<Vec<(u64, Instant)>>>;

struct Ros {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    received: Received,
    thread: Option<JoinHandle<Result<(), String>>>,
}

impl Ros {
    /// A publisher node and a subscriber node on one topic; publishes every 5 ms until dropped.
    fn start() -> Ros {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let received: Received = Arc::default();
        let (s, n, r) = (stop.clone(), sent.clone(), received.clone());
        let thread = std::thread::spawn(move || ros_loop(&s, &n, r));
        Ros {
            stop,
            sent,
            received,
            thread: Some(thread),
        }
    }

    fn received(&self) -> Vec<(u64, Instant)> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until a message published after now arrives (ROS works at this point).
    fn wait_fresh(&self, what: &str) {
        let after = self.sent.load(Ordering::Acquire);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.received().iter().any(|(n, _)| *n > after) {
                return;
            }
            if self.thread.as_ref().is_some_and(|t| t.is_finished()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "{what}: no ROS message published after #{after} arrived (sent {}, received {})",
            self.sent.load(Ordering::Acquire),
            self.received().len()
        );
    }

    fn stop(mut self) -> Vec<(u64, Instant)> {
        self.stop.store(true, Ordering::Release);
        let r = self.thread.take().unwrap().join().unwrap();
        r.unwrap();
        self.received()
    }
}

fn ros_loop(stop: &AtomicBool, sent: &AtomicU64, received: Received) -> Result<(), String> {
    use r2r::std_msgs::msg::String as Msg;
    let topic = format!("/sattva_coexist_{}", std::process::id());
    let ctx = r2r::Context::create().map_err(|e| format!("rcl init: {e}"))?;
    let mut pub_node = r2r::Node::create(ctx.clone(), "sattva_coexist_pub", "")
        .map_err(|e| format!("node: {e}"))?;
    let mut sub_node =
        r2r::Node::create(ctx, "sattva_coexist_sub", "").map_err(|e| format!("node: {e}"))?;
    let publisher = pub_node
        .create_publisher::<Msg>(&topic, r2r::QosProfile::default())
        .map_err(|e| format!("publisher: {e}"))?;
    let mut sub = sub_node
        .subscribe::<Msg>(&topic, r2r::QosProfile::default())
        .map_err(|e| format!("subscribe: {e}"))?;
    let mut pool = futures::executor::LocalPool::new();
    let bad = Arc::new(AtomicU64::new(0));
    let bad2 = bad.clone();
    pool.spawner()
        .spawn_local(async move {
            while let Some(m) = sub.next().await {
                match m.data.strip_prefix("coexist ").and_then(|n| n.parse().ok()) {
                    Some(n) => received.lock().unwrap().push((n, Instant::now())),
                    None => {
                        bad2.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
        .map_err(|e| format!("spawn: {e}"))?;
    let mut n = 0u64;
    let mut next = Instant::now();
    while !stop.load(Ordering::Acquire) {
        if Instant::now() >= next {
            n += 1;
            publisher
                .publish(&Msg {
                    data: format!("coexist {n}"),
                })
                .map_err(|e| format!("publish: {e}"))?;
            sent.store(n, Ordering::Release);
            next += Duration::from_millis(5);
        }
        pub_node.spin_once(Duration::from_millis(1));
        sub_node.spin_once(Duration::from_millis(1));
        pool.run_until_stalled();
    }
    match bad.load(Ordering::Relaxed) {
        0 => Ok(()),
        b => Err(format!("{b} messages with unexpected contents")),
    }
}

fn record(path: &Path) -> (usize, usize) {
    let v = SynthVideo {
        width: W,
        height: H,
        fps: 25,
        intrinsics: (6.0, 6.0, 3.5, 2.5),
    };
    let mut w = BagWriter::create(
        path,
        SynthStreams {
            depth: Some((v, 0.001)),
            color: Some(v),
            imu: Some((400, 200)),
        },
    )
    .unwrap();
    let events = merged_schedule(
        T0_MS,
        T0_MS + SPAN_MS,
        &[VIDEO_DT_MS, GYRO_DT_MS, ACCEL_DT_MS],
    );
    let (mut video, mut gyro) = (0, 0);
    for (t, kind, _) in events {
        match kind {
            0 => {
                let z: Vec<u16> = (0..W * H).map(|i| 500 + i as u16).collect();
                let c: Vec<u8> = (0..3 * W * H).map(|i| i as u8).collect();
                w.push_depth(t, &z, W).unwrap();
                w.push_color(t, &c, W).unwrap();
                video += 1;
            }
            1 => {
                w.push_gyro(t, [0.0, 0.5, 0.0]).unwrap();
                gyro += 1;
            }
            _ => w.push_accel(t, [0.0, -9.75, 0.0]).unwrap(),
        }
    }
    w.finish().unwrap();
    (video, gyro)
}

#[test]
fn ros2_pub_sub_keeps_working_while_librealsense_plays_a_recording() {
    let domain = common::ros::domain_id(3);
    // SAFETY: set before any thread of this test process starts; this file has one test.
    unsafe {
        std::env::set_var("ROS_DOMAIN_ID", &domain);
        std::env::set_var("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
    }
    let ros = Ros::start();
    ros.wait_fresh("before librealsense");

    // librealsense loaded and used (software device + recorder) while ROS runs
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("coexist.bag");
    let (n_video, n_gyro) = record(&bag);
    assert_eq!((n_video, n_gyro), (26, 401));
    ros.wait_fresh("after recording through librealsense");

    std::fs::write(
        dir.path().join("synth.yaml"),
        format!(
            "model: SYNTH\ndepth: {{width: {W}, height: {H}, fps: 25, format: z16}}\n\
             color: {{width: {W}, height: {H}, fps: 25, format: rgb8}}\n\
             depth_units_m: 0.001\nimu: {{gyro_hz: 400, accel_hz: 200}}\n"
        ),
    )
    .unwrap();
    // Small IMU queue: the (lossless, non-real-time) playback waits for the consumer below,
    // which takes ~1 ms per sample, so playback overlaps ROS traffic for about half a second.
    let cfg_file = dir.path().join("cam.yaml");
    std::fs::write(
        &cfg_file,
        "sattva:\n  ros__parameters:\n    backend: realsense\n    realsense:\n      profile: synth.yaml\n      playback: coexist.bag\n      watchdog_timeout_ms: 2000\n      imu_queue: 8\n      imu_max_backlog: 7\n",
    )
    .unwrap();
    let c = Config::load(&cfg_file, &[]).unwrap();
    let mut b = RealsenseBackend::new(&c).unwrap();
    b.configure().unwrap();
    let mut cam = b.take_camera().unwrap();
    b.activate().unwrap();
    let active_from = Instant::now();
    let (mut imu, mut rgbd) = (Vec::new(), Vec::new());
    let mut frame = SensorFrame::default();
    let mut img = RgbdFrame::default();
    let deadline = Instant::now() + Duration::from_secs(30);
    let end = loop {
        assert!(Instant::now() < deadline, "playback did not end");
        while cam.try_recv(&mut img) {
            rgbd.push(img.t);
        }
        let t = b.now();
        match b.read(t, &mut frame) {
            Ok(()) => {
                if let Some(s) = frame.imu {
                    imu.push((frame.t, s));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => break e,
        }
        b.write(t, &Command::hold(t)).unwrap();
    };
    while cam.try_recv(&mut img) {
        rgbd.push(img.t);
    }
    let active_to = Instant::now();
    let stats = b.stats();
    b.deactivate().unwrap();
    drop(b);
    ros.wait_fresh("after playback");
    let got = ros.stop();

    // --- playback: every sample and frame, exact stamps and values
    assert!(
        matches!(&end, BackendError::Disconnected { message, .. } if message.contains("end of recording")),
        "{end}"
    );
    assert_eq!(imu.len(), n_gyro, "every gyro sample once: {stats:?}");
    for (j, (t, s)) in imu.iter().enumerate() {
        let want = ((T0_MS + GYRO_DT_MS * j as f64) * 1e6).round() as i64;
        assert_eq!(*t, Time(want), "IMU sample {j}");
        // optical (x right, y down, z forward) -> body (z, -x, -y)
        assert_eq!(s.gyro, [0.0, 0.0, -0.5], "gyro {j}");
        assert_eq!(s.accel, [0.0, 0.0, 9.75], "accel {j}");
    }
    assert_eq!(rgbd.len(), n_video, "every RGB-D frame once: {stats:?}");
    for (i, t) in rgbd.iter().enumerate() {
        let want = ((T0_MS + VIDEO_DT_MS * i as f64) * 1e6).round() as i64;
        assert_eq!(*t, Time(want), "RGB-D frame {i}");
    }
    assert_eq!((stats.imu_dropped, stats.rgbd_dropped), (0, 0), "{stats:?}");

    // --- ROS: in order, none lost, and traffic all through the playback
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "messages out of order or duplicated"
    );
    let first = got.first().unwrap().0;
    let last = got.last().unwrap().0;
    assert_eq!(
        got.len() as u64,
        last - first + 1,
        "messages lost between #{first} and #{last} (reliable QoS, one process)"
    );
    let during = got
        .iter()
        .filter(|(_, at)| *at >= active_from && *at <= active_to)
        .count();
    let span = active_to - active_from;
    assert!(
        span > Duration::from_millis(300) && during >= 20,
        "only {during} ROS messages arrived during {span:?} of playback (published every 5 ms)"
    );
    println!(
        "playback {span:?}: {} IMU samples, {} RGB-D frames; ROS messages received {} (during playback {during})",
        imu.len(),
        rgbd.len(),
        got.len()
    );
}
