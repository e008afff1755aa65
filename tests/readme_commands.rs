//! Every command line README.md and hardware/README.md show is run, so a documented command that
//! no longer parses or fails fails this test.
//!
//! The command lines are extracted from the documents: lines of `bash`/`sh` code blocks and
//! inline code spans that start with `sattva <subcommand>`, `./target/<profile>/sattva` or
//! `cargo run`. Each runs with the test's `sattva` binary, in a sandbox laid out like the
//! repository (`config/` copied, `sim/`, `scripts/`, `third_party/` linked, `hardware/` with the
//! profile `hardware/my_arm.yaml` written from its code block in hardware/README.md, and
//! `../shared/data/imu` with the first rows of each BROAD trial), so relative paths mean what
//! they mean in the docs and outputs stay out of the checkout. Synopses are expanded: each
//! placeholder (`FILE`, `BAG`, `--duration s`, ...) is filled from [`PLACEHOLDERS`], and the
//! `[optional]` parts are run all left out and all put in.
//!
//! Commands that would run long get flags that make them short ([`SHORT`], per subcommand:
//! replaced where the command has the flag, else added after the subcommand); a documented
//! subcommand without an entry there fails the test. A `cargo run` line's features must include
//! what its subcommand needs ([`NEEDS`]). Hardware is replaced by the project's stand-ins: the
//! robot by the rclpy fake ros2_control robot (`tests/ros/fake_robot.py`), the RealSense camera by
//! a recording made through librealsense's software device (one more `--params-file`), a bag by
//! one `sattva run --fast` records.
#![cfg(all(feature = "mujoco", feature = "ros2", feature = "realsense"))]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ros::{domain_id, python, ros_env, KillOnDrop};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents whose command lines are run.
const DOCS: [&str; 2] = ["README.md", "hardware/README.md"];

/// Placeholders of the synopses: (token before it or `""` for any, placeholder, value).
/// `{bag}` is the stand-in bag.
const PLACEHOLDERS: &[(&str, &str, &str)] = &[
    ("--socket", "PATH", "sattva.sock"),
    ("--monitors", "FILE", "hardware/sim_arm_monitors.yaml"),
    ("", "FILE", "config/sim.yaml"),
    ("", "BAG", "{bag}"),
    ("--rate", "k", "10"),
    ("--speed", "k", "1.5"),
    ("--duration", "s", "1"),
    ("-p", "k=v", "seed=3"),
    ("--ros-args", "...", "-p seed:=3"),
    ("--curriculum", "N", "2"),
    ("-n", "N", "3"),
    ("--report", "DIR", "out/replay_report"),
];

/// A flag and its value (`None`: a flag without value).
type Flag = (&'static str, Option<&'static str>);

/// Per subcommand: flags that make it short. Replaced where the command has the flag, else added
/// after the subcommand.
const SHORT: &[(&str, &[Flag])] = &[
    // attached to a stand-in agent for a few seconds (see `run_top`)
    ("top", &[]),
    ("sim", &[("--episodes", Some("2"))]),
    (
        "eval literacy",
        &[("--train", Some("30")), ("--novel", Some("24"))],
    ),
    (
        "eval grounding",
        &[("--train", Some("30")), ("--novel", Some("24"))],
    ),
    (
        "eval perform",
        &[
            ("--train", Some("30")),
            ("--trials", Some("1")),
            ("--min-count", Some("1")),
        ],
    ),
    ("run", &[("--duration", Some("1"))]),
    (
        "peers",
        &[
            ("-n", Some("3")),
            ("--train", Some("6")),
            ("--novel", Some("3")),
            ("--calibration", Some("3")),
        ],
    ),
    (
        "eval peers",
        &[
            ("-n", Some("2")),
            ("--train", Some("4")),
            ("--novel", Some("2")),
            ("--calibration", Some("2")),
        ],
    ),
    ("replay", &[]),
    ("bag info", &[]),
    ("bag check", &[]),
    ("config", &[]),
    (
        "bench sim",
        &[("--steps", Some("2000")), ("--reps", Some("1"))],
    ),
    (
        "bench sched",
        &[("--seconds", Some("0.2")), ("--no-hog", None)],
    ),
    // the BROAD trials of the sandbox are short (see the module docs)
    ("bench fusion", &[("--sim-seconds", Some("1"))]),
    ("bench encode", &[("--calls", Some("1000"))]),
    (
        "bench replay",
        &[
            ("--seconds", Some("2")),
            ("--reps", Some("1")),
            ("--gigabytes", Some("0.02")),
        ],
    ),
    ("bench ros", &[("--seconds", Some("1"))]),
    (
        "bench realsense",
        &[("--seconds", Some("0.5")), ("--reps", Some("1"))],
    ),
    ("bench vision", &[("--frames", Some("3"))]),
    (
        "bench monitors",
        &[("--cycles", Some("300")), ("--rtamt-samples", Some("100"))],
    ),
    (
        "bench substrate",
        &[
            ("--sizes", Some("1000")),
            ("--ef", Some("16,32")),
            ("--ops", Some("100")),
            ("--queries", Some("20")),
            ("--stream", Some("500")),
            ("--stream-capacity", Some("100")),
        ],
    ),
];

/// Cargo features a subcommand needs (a `cargo run` line must enable them).
const NEEDS: &[(&str, &[&str])] = &[
    ("sim", &["mujoco"]),
    ("eval literacy", &["mujoco"]),
    ("eval grounding", &["mujoco"]),
    ("eval perform", &["mujoco"]),
    ("peers", &["mujoco", "ros2"]),
    ("eval peers", &["mujoco", "ros2"]),
    ("bench sim", &["mujoco"]),
    ("bench fusion", &["mujoco"]),
    ("bench monitors", &["mujoco"]),
    ("bench ros", &["ros2"]),
    ("bench realsense", &["realsense"]),
    // `sattva run` on the default config (MuJoCo); the robot backend needs ros2 (+ realsense)
    ("run", &["mujoco"]),
];

/// Rows of each BROAD trial in the sandbox (its ground truth starts within the first 1,300).
const BROAD_ROWS: usize = 4000;

/// A command line as a document shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct DocCommand {
    doc: &'static str,
    line: usize,
    text: String,
}

/// The command lines of `doc`: `bash`/`sh` block lines (comments stripped) and inline code spans.
fn extract(doc: &'static str, text: &str) -> Vec<DocCommand> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    let mut prose = String::new();
    for (n, l) in text.lines().enumerate() {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("```") {
            fence = match fence {
                None => Some(rest.trim().to_string()),
                Some(_) => None,
            };
            prose.push('\n');
            continue;
        }
        match &fence {
            Some(lang) => {
                if matches!(lang.as_str(), "bash" | "sh" | "shell" | "console" | "") {
                    let code = match t.find(" #") {
                        Some(i) => &t[..i],
                        None => t,
                    };
                    let code = code.trim().trim_start_matches("$ ");
                    if is_command(code) {
                        out.push(DocCommand {
                            doc,
                            line: n + 1,
                            text: normalise(code),
                        });
                    }
                }
                prose.push('\n');
            }
            None => {
                prose.push_str(l);
                prose.push('\n');
            }
        }
    }
    // inline code spans (they may wrap across a line break, not across a paragraph)
    let mut rest = prose.as_str();
    let mut offset = 0;
    while let Some(a) = rest.find('`') {
        let after = &rest[a + 1..];
        let Some(b) = after.find('`') else { break };
        let span = &after[..b];
        if !span.contains("\n\n") && is_command(span.trim()) {
            let line = prose[..offset + a].matches('\n').count() + 1;
            out.push(DocCommand {
                doc,
                line,
                text: normalise(span),
            });
        }
        offset += a + 1 + b + 1;
        rest = &after[b + 1..];
    }
    out
}

fn normalise(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `sattva <subcommand> ...`, `./target/<profile>/sattva ...` or `cargo run ...`; not the bare
/// name `sattva` nor an option reference like `sattva -c`.
fn is_command(s: &str) -> bool {
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        ["sattva", sub, ..] => sub.chars().all(|c| c.is_ascii_lowercase()),
        [exe, ..] if exe.starts_with("./target/") && exe.ends_with("/sattva") => true,
        ["cargo", "run", ..] => true,
        _ => false,
    }
}

/// The arguments for the `sattva` binary and the features a `cargo run` line enables (`None`:
/// not a `cargo run` line).
fn strip_launcher(text: &str) -> (Vec<String>, Option<BTreeSet<String>>) {
    let words: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    if words[0] != "cargo" {
        return (words[1..].to_vec(), None);
    }
    let mut features: BTreeSet<String> = ["mujoco".to_string()].into();
    let mut i = 2;
    while i < words.len() && words[i] != "--" {
        match words[i].as_str() {
            "--no-default-features" => {
                features.remove("mujoco");
            }
            "--features" | "-F" => {
                i += 1;
                features.extend(words[i].split(',').map(str::to_string));
            }
            _ => {}
        }
        i += 1;
    }
    (
        words.get(i + 1..).unwrap_or_default().to_vec(),
        Some(features),
    )
}

/// The synopsis `args` with its `[optional]` parts all out and all in (one form if it has none).
fn expand_optional(args: &[String]) -> Vec<Vec<String>> {
    let joined = args.join(" ");
    if !joined.contains('[') {
        return vec![args.to_vec()];
    }
    let (mut without, mut with) = (String::new(), String::new());
    let mut depth = 0;
    for c in joined.chars() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            c => {
                with.push(c);
                if depth == 0 {
                    without.push(c);
                }
            }
        }
    }
    let split = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    vec![split(&without), split(&with)]
}

/// Fills the placeholders; panics naming one it does not know.
fn fill(args: &[String], bag: &Path, doc: &DocCommand) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let prev = if i > 0 { args[i - 1].as_str() } else { "" };
        let mut a = a.replace("<robot>", "my_arm");
        if let Some((_, _, v)) = PLACEHOLDERS
            .iter()
            .find(|(p, ph, _)| *ph == a && (p.is_empty() || *p == prev))
        {
            a = v.replace("{bag}", &bag.display().to_string());
            out.extend(a.split(' ').map(str::to_string));
            continue;
        }
        let unknown = a.contains('<')
            || a.contains("...")
            || (a.len() > 1 && a.chars().all(|c| c.is_ascii_uppercase()));
        assert!(
            !unknown,
            "{}:{}: `{}`: unknown placeholder `{a}`: add it to PLACEHOLDERS",
            doc.doc, doc.line, doc.text
        );
        out.push(a);
    }
    out
}

/// The subcommand (`bench sim`) and how many words it has.
fn subcommand(args: &[String]) -> (String, usize) {
    let n = if matches!(
        args.first().map(String::as_str),
        Some("bench") | Some("eval") | Some("bag")
    ) {
        2
    } else {
        1
    };
    (args[..n.min(args.len())].join(" "), n)
}

/// Applies [`SHORT`]: replaces a flag's value where the command has the flag (before any
/// `--ros-args`), else adds it after the subcommand.
fn shorten(args: &[String], doc: &DocCommand) -> Vec<String> {
    let (sub, n) = subcommand(args);
    let Some((_, flags)) = SHORT.iter().find(|(s, _)| *s == sub) else {
        panic!(
            "{}:{}: `{}`: subcommand `{sub}` has no entry in SHORT: say how to keep it short",
            doc.doc, doc.line, doc.text
        );
    };
    let mut out = args.to_vec();
    let own_end = out
        .iter()
        .position(|a| a == "--ros-args")
        .unwrap_or(out.len());
    let mut insert = Vec::new();
    for (flag, value) in flags.iter() {
        match out[..own_end].iter().position(|a| a == flag) {
            Some(i) => {
                if let Some(v) = value {
                    out[i + 1] = v.to_string();
                }
            }
            None => {
                insert.push(flag.to_string());
                if let Some(v) = value {
                    insert.push(v.to_string());
                }
            }
        }
    }
    out.splice(n..n, insert);
    out
}

/// The sandbox: the repository's layout with outputs kept out of the checkout.
struct Sandbox {
    _dir: tempfile::TempDir,
    repo: PathBuf,
    /// The stand-in bag for `BAG`.
    bag: PathBuf,
    /// A params file pointing the `realsense:` section at a recording.
    camera: PathBuf,
    /// `robot:` of hardware/README.md's `hardware/my_arm.yaml`: joint names, command topic.
    arm: (Vec<String>, String),
}

/// The code block of `hardware/README.md` that shows `hardware/my_arm.yaml`.
fn my_arm_yaml() -> String {
    let text = std::fs::read_to_string(root().join("hardware/README.md")).unwrap();
    let start = text
        .find("```yaml\n# hardware/my_arm.yaml\n")
        .expect("hardware/README.md shows hardware/my_arm.yaml in a yaml block");
    let body = &text[start + "```yaml\n".len()..];
    body[..body.find("```").unwrap()].to_string()
}

fn symlink(from: &Path, to: &Path) {
    std::os::unix::fs::symlink(from, to)
        .unwrap_or_else(|e| panic!("link {} -> {}: {e}", to.display(), from.display()));
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("config")).unwrap();
        std::fs::create_dir_all(repo.join("hardware")).unwrap();
        // config/ copied (its `../out` paths then land in the sandbox), the rest linked
        for e in std::fs::read_dir(root().join("config")).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, repo.join("config").join(p.file_name().unwrap())).unwrap();
        }
        for d in ["sim", "scripts", "third_party", "launch"] {
            symlink(&root().join(d), &repo.join(d));
        }
        for e in std::fs::read_dir(root().join("hardware")).unwrap() {
            let p = e.unwrap().path();
            symlink(&p, &repo.join("hardware").join(p.file_name().unwrap()));
        }
        let arm = my_arm_yaml();
        std::fs::write(repo.join("hardware/my_arm.yaml"), &arm).unwrap();
        let v: serde_norway::Value = serde_norway::from_str(&arm).unwrap();
        let robot = &v["sattva"]["ros__parameters"]["robot"];
        let names = robot["joint_names"]
            .as_sequence()
            .expect("my_arm.yaml: robot.joint_names")
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        let topic = robot["command_topic"].as_str().unwrap().to_string();
        // ../shared/data/imu: the first rows of each BROAD trial
        let imu = dir.path().join("shared/data/imu");
        std::fs::create_dir_all(&imu).unwrap();
        let real = common::shared_data_path("imu/broad_02_undisturbed_slow_rotation_B.csv");
        for e in std::fs::read_dir(real.parent().unwrap()).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("broad_") && name.ends_with(".csv") {
                let text = std::fs::read_to_string(&p).unwrap();
                let head: Vec<&str> = text.lines().take(BROAD_ROWS + 1).collect();
                std::fs::write(imu.join(name), head.join("\n") + "\n").unwrap();
            }
        }
        // stand-ins: a bag with the topics `sattva replay` reads by default, a camera recording
        let standin = dir.path().join("standin");
        std::fs::create_dir_all(&standin).unwrap();
        let bags = standin.join("bags");
        let rec = run_sattva(
            &repo,
            &[
                "run",
                "-c",
                "config/sim.yaml",
                "--fast",
                "--duration",
                "2",
                "--no-ros",
                "-p",
                "record.enabled=true",
                "-p",
                &format!("record.dir={}", bags.display()),
                "-p",
                "record.imu_topic=/imu/data",
                "-p",
                "record.joint_states_topic=/joint_states",
            ]
            .map(String::from),
            &domain_id(90),
        );
        assert!(
            rec.ok,
            "recording the stand-in bag failed:\n{}",
            rec.report()
        );
        let bag = std::fs::read_dir(&bags)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.is_dir())
            .expect("the stand-in run recorded a bag");
        let (cam_bag, profile) = common::realsense::record_camera_at_rest(&standin, 12.0);
        let camera = standin.join("camera.yaml");
        // relative paths: against this file's directory
        std::fs::write(
            &camera,
            format!(
                "sattva:\n  ros__parameters:\n    realsense:\n      profile: {}\n      playback: {}\n",
                profile.file_name().unwrap().to_string_lossy(),
                cam_bag.file_name().unwrap().to_string_lossy()
            ),
        )
        .unwrap();
        Sandbox {
            _dir: dir,
            repo,
            bag,
            camera,
            arm: (names, topic),
        }
    }
}

/// What one run of `sattva` did.
struct Outcome {
    args: Vec<String>,
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    seconds: f64,
}

impl Outcome {
    fn report(&self) -> String {
        format!(
            "sattva {}\nexit {:?} after {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.seconds,
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// How long one command may take.
const TIMEOUT: Duration = Duration::from_secs(240);

/// Runs the test's `sattva` with `args` in `dir` on ROS domain `domain`; kills it after
/// [`TIMEOUT`].
fn run_sattva(dir: &Path, args: &[String], domain: &str) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sattva"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ros_env(&mut cmd, domain);
    let t0 = Instant::now();
    let mut child = KillOnDrop(cmd.spawn().expect("start sattva"));
    // drain the pipes while waiting (a chatty command must not block on a full pipe)
    let mut so = child.0.stdout.take().unwrap();
    let mut se = child.0.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait for sattva") {
            break Some(s);
        }
        if t0.elapsed() > TIMEOUT {
            let _ = child.0.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap_or_default();
    let mut stderr = err_t.join().unwrap_or_default();
    if status.is_none() {
        stderr.push_str(&format!("\n(killed after {TIMEOUT:?})"));
    }
    Outcome {
        args: args.to_vec(),
        ok: status.is_some_and(|s| s.success()),
        code: status.and_then(|s| s.code()),
        stdout,
        stderr,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// `sattva top`: attached (in tmux, 80x24) to a stand-in agent serving the documented socket;
/// succeeds when the task table appears and `q` quits. The screen is the outcome's stdout.
fn run_top(dir: &Path, args: &[String], domain: &str) -> Outcome {
    let sock = args
        .iter()
        .position(|a| a == "--socket")
        .and_then(|i| args.get(i + 1))
        .map_or("/tmp/sattva.sock".to_string(), Clone::clone);
    let mut agent = Command::new(env!("CARGO_BIN_EXE_sattva"));
    agent
        .args(["run", "--no-ros", "--duration", "120", "--no-summary", "-p"])
        // config paths are relative to the config file; `top --socket` to the current directory
        .arg(format!("metrics.socket={}", dir.join(&sock).display()))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    ros_env(&mut agent, domain);
    let _agent = KillOnDrop(agent.spawn().expect("stand-in agent"));
    let t0 = Instant::now();
    // until the agent accepts connections: the path alone may be a stale socket file that an
    // earlier, killed agent left (the default /tmp/sattva.sock outlives every tempdir), and a
    // `top` started before the agent bound it finds nobody there and exits (generous: on a
    // loaded 2-core machine the stand-in agent's start can take a while)
    while std::os::unix::net::UnixStream::connect(dir.join(&sock)).is_err()
        && t0.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let tsock = dir.join("tmux.sock");
    let tmux = |a: &[&str]| {
        let o = Command::new("tmux")
            .arg("-S")
            .arg(&tsock)
            .args(a)
            .current_dir(dir)
            .output();
        o.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let cmd = std::iter::once(env!("CARGO_BIN_EXE_sattva").to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "top",
        "-x",
        "80",
        "-y",
        "24",
        &cmd,
    ]);
    let mut screen = String::new();
    while t0.elapsed() < Duration::from_secs(90) && !screen.contains("control") {
        std::thread::sleep(Duration::from_millis(200));
        screen = tmux(&["capture-pane", "-p", "-t", "top"]);
    }
    tmux(&["send-keys", "-t", "top", "q"]);
    std::thread::sleep(Duration::from_millis(500));
    let quit = tmux(&["list-sessions"]).is_empty();
    tmux(&["kill-server"]);
    Outcome {
        args: args.to_vec(),
        ok: screen.contains("control") && quit,
        code: None,
        stdout: screen,
        stderr: if quit {
            String::new()
        } else {
            "`q` did not quit".into()
        },
        seconds: t0.elapsed().as_secs_f64(),
    }
}

/// `sattva run` on the robot backend: the fake ros2_control robot of hardware/README.md's
/// profile on the domain, the camera replaced by a recording, a longer run.
fn run_on_robot(sb: &Sandbox, args: &[String], domain: &str) -> Outcome {
    let (names, topic) = &sb.arm;
    let zeros = vec!["0.0"; names.len()].join(",");
    let mut fake = python();
    fake.arg(root().join("tests/ros/fake_robot.py"))
        .args([&names.join(","), &zeros, "500", "60", "60", topic])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    ros_env(&mut fake, domain);
    let mut fake = KillOnDrop(fake.spawn().expect("fake robot"));
    let mut lines = BufReader::new(fake.0.stdout.take().unwrap()).lines();
    assert_eq!(
        lines.next().and_then(Result::ok).as_deref(),
        Some("READY"),
        "fake robot did not start"
    );
    let mut args = args.to_vec();
    let d = args.iter().position(|a| a == "--duration").unwrap();
    args[d + 1] = "3".into();
    args.extend(["--params-file".into(), sb.camera.display().to_string()]);
    run_sattva(&sb.repo, &args, domain)
}

#[test]
fn every_documented_command_line_runs() {
    // 1. the command lines of the documents
    let mut commands = Vec::new();
    for doc in DOCS {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        commands.extend(extract(doc, &text));
    }
    for c in &commands {
        println!("{}:{}: {}", c.doc, c.line, c.text);
    }
    // the extractor finds what the documents are known to show
    for must in [
        "sattva run -c config/robot.yaml --params-file hardware/my_arm.yaml",
        "./target/debug/sattva run --ros-args --params-file config/sim.yaml -p seed:=3",
        "cargo run --release -- eval literacy -c config/yam.yaml --baselines",
        "sattva config -c config/realsense.yaml",
        "sattva replay BAG [--rate k] [--report DIR]",
    ] {
        assert!(
            commands.iter().any(|c| c.text == must),
            "`{must}` not extracted from {DOCS:?}"
        );
    }

    // 2. what to run: launcher stripped, synopses expanded, placeholders filled, made short
    let sb = Sandbox::new();
    let mut runs: Vec<(Vec<String>, Vec<&DocCommand>)> = Vec::new();
    for c in &commands {
        let (args, features) = strip_launcher(&c.text);
        assert!(
            !args.is_empty(),
            "{}:{}: `{}`: no command",
            c.doc,
            c.line,
            c.text
        );
        for form in expand_optional(&args) {
            let form = fill(&form, &sb.bag, c);
            let (sub, _) = subcommand(&form);
            if let (Some(features), Some((_, needs))) =
                (&features, NEEDS.iter().find(|(s, _)| *s == sub))
            {
                for n in needs.iter() {
                    assert!(
                        features.contains(*n),
                        "{}:{}: `{}` needs `--features {n}` (enabled: {features:?})",
                        c.doc,
                        c.line,
                        c.text
                    );
                }
            }
            let form = shorten(&form, c);
            match runs.iter_mut().find(|(a, _)| *a == form) {
                Some((_, from)) => from.push(c),
                None => runs.push((form, vec![c])),
            }
        }
    }

    // 3. run each (sequentially: the benches measure)
    let mut failures = Vec::new();
    for (k, (args, from)) in runs.iter().enumerate() {
        let domain = domain_id(100 + k as u32);
        let robot = args.iter().any(|a| a == "config/robot.yaml");
        let out = if robot {
            run_on_robot(&sb, args, &domain)
        } else if args.first().map(String::as_str) == Some("top") {
            run_top(&sb.repo, args, &domain)
        } else {
            run_sattva(&sb.repo, args, &domain)
        };
        let shown: Vec<String> = from
            .iter()
            .map(|c| format!("{}:{} `{}`", c.doc, c.line, c.text))
            .collect();
        println!(
            "[{}/{}] {} in {:.1} s: sattva {}\n    from {}",
            k + 1,
            runs.len(),
            if out.ok { "ok" } else { "FAILED" },
            out.seconds,
            args.join(" "),
            shown.join(", ")
        );
        let mut ok = out.ok && !out.stdout.trim().is_empty();
        if robot {
            ok &= out.stdout.contains("sattva run (robot)");
        }
        if !ok {
            failures.push(format!("{}\n{}", shown.join("\n"), out.report()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} documented command lines failed:\n\n{}",
        failures.len(),
        runs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn extraction_and_expansion_work_on_a_sample() {
    let md = "Run `sattva sim [-c FILE]` or\n`cargo run --release --features ros2 -- bench\nros --seconds 8`, not `sattva` nor `sattva -c`.\n\n```bash\nsattva run -c a.yaml   # a comment\ncargo build\n```\n```text\nsattva sim summary\n```\n";
    let c = extract("x.md", md);
    let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "sattva run -c a.yaml",
            "sattva sim [-c FILE]",
            "cargo run --release --features ros2 -- bench ros --seconds 8"
        ]
    );
    assert_eq!(c[0].line, 6);
    assert_eq!(c[1].line, 1);
    let (args, features) = strip_launcher(&c[2].text);
    assert_eq!(args, ["bench", "ros", "--seconds", "8"]);
    assert_eq!(
        features.unwrap(),
        ["mujoco", "ros2"].map(String::from).into()
    );
    let (args, _) = strip_launcher(&c[1].text);
    let forms = expand_optional(&args);
    assert_eq!(forms.len(), 2);
    let filled = fill(&forms[1], Path::new("/b"), &c[1]);
    assert_eq!(filled, ["sim", "-c", "config/sim.yaml"]);
    let short = shorten(&filled, &c[1]);
    assert_eq!(short, ["sim", "--episodes", "2", "-c", "config/sim.yaml"]);
    let replaced = shorten(&["bench", "ros", "--seconds", "8"].map(String::from), &c[2]);
    assert_eq!(replaced, ["bench", "ros", "--seconds", "1"]);
}
