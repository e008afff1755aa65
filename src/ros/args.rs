//! `--ros-args` handling: the same command line `ros2 run` / `ros2 launch` produce works for the
//! standalone binary. sattva reads `--params-file` and `-p name:=value` itself (so its typed
//! config and its error messages apply), and rcl sees the very same arguments.
//!
//! Config files and overrides may be given on both sides of `--ros-args`:
//! `sattva run -c config/robot.yaml --params-file hardware/arm.yaml --ros-args --params-file
//! site.yaml -p seed:=3` merges the three files in command-line order (later wins), then applies
//! the overrides in order ([`config_sources`]).

use std::path::PathBuf;

/// What sattva takes from a `--ros-args ... [--]` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RosArgs {
    /// `--params-file FILE`, in order (later files override earlier ones).
    pub params_files: Vec<PathBuf>,
    /// `-p name:=value` / `--param name:=value`, in order.
    pub params: Vec<String>,
    /// The raw ROS arguments, including `--ros-args`, for rcl.
    pub raw: Vec<String>,
    /// For each of `params_files`: how many of sattva's own arguments precede it.
    pub params_files_after: Vec<usize>,
    /// For each of `params`: how many of sattva's own arguments precede it.
    pub params_after: Vec<usize>,
}

/// Where the configuration comes from, in command-line order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigSources {
    /// Params files (`-c`, `--config`, `--params-file`, outside or inside `--ros-args`), merged
    /// in this order, later ones winning key by key.
    pub files: Vec<PathBuf>,
    /// Overrides `key.path=value` / `key.path:=value` (`-p`, `--param`), applied after every
    /// file (as ROS 2 applies `-p` after `--params-file`), in this order.
    pub params: Vec<String>,
}

/// Errors in a `--ros-args` section.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RosArgsError {
    /// A flag that needs a value came last.
    #[error("--ros-args: `{0}` needs a value")]
    MissingValue(String),
}

/// Splits `args` (without the program name) into the arguments for sattva's own parser and the
/// ROS arguments. Several `--ros-args` sections are allowed, each ended by `--` or the end.
pub fn split_ros_args(args: &[String]) -> Result<(Vec<String>, RosArgs), RosArgsError> {
    let mut own = Vec::new();
    let mut ros = RosArgs::default();
    let mut i = 0;
    while i < args.len() {
        if args[i] != "--ros-args" {
            own.push(args[i].clone());
            i += 1;
            continue;
        }
        ros.raw.push(args[i].clone());
        i += 1;
        while i < args.len() && args[i] != "--" && args[i] != "--ros-args" {
            let a = &args[i];
            ros.raw.push(a.clone());
            let takes_value = matches!(
                a.as_str(),
                "--params-file"
                    | "-p"
                    | "--param"
                    | "-r"
                    | "--remap"
                    | "--log-level"
                    | "-e"
                    | "--enclave"
                    | "--log-config-file"
            );
            if takes_value {
                let v = args
                    .get(i + 1)
                    .ok_or_else(|| RosArgsError::MissingValue(a.clone()))?;
                ros.raw.push(v.clone());
                match a.as_str() {
                    "--params-file" => {
                        ros.params_files.push(PathBuf::from(v));
                        ros.params_files_after.push(own.len());
                    }
                    "-p" | "--param" => {
                        ros.params.push(v.clone());
                        ros.params_after.push(own.len());
                    }
                    _ => {}
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        if i < args.len() && args[i] == "--" {
            ros.raw.push("--".into());
            i += 1;
        }
    }
    Ok((own, ros))
}

/// Orders the config sources of one command line. `own` are sattva's own arguments (as
/// [`split_ros_args`] returned them, program name first), `files` and `params` what the argument
/// parser took from them for `-c`/`--config`/`--params-file` and `-p`/`--param` (in their order);
/// `ros` the `--ros-args` sections. Own and ROS sources interleave by position; when the
/// positions of the own ones cannot be told (a form the scan does not know), own sources come
/// first, which is the order `ros2 run` and `ros2 launch` produce anyway.
pub fn config_sources(
    own: &[String],
    files: &[PathBuf],
    params: &[String],
    ros: &RosArgs,
) -> ConfigSources {
    let (file_at, param_at) = scan_own(own);
    let same = |at: &[(usize, String)], parsed: Vec<String>| {
        at.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>() == parsed
    };
    let files_s: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let file_pos: Vec<usize> = if same(&file_at, files_s) {
        file_at.iter().map(|(i, _)| *i).collect()
    } else {
        vec![0; files.len()]
    };
    let param_pos: Vec<usize> = if same(&param_at, params.to_vec()) {
        param_at.iter().map(|(i, _)| *i).collect()
    } else {
        vec![0; params.len()]
    };
    ConfigSources {
        files: interleave(
            files.iter().cloned().zip(file_pos),
            ros.params_files
                .iter()
                .cloned()
                .zip(ros.params_files_after.iter().copied()),
        ),
        params: interleave(
            params.iter().cloned().zip(param_pos),
            ros.params
                .iter()
                .cloned()
                .zip(ros.params_after.iter().copied()),
        ),
    }
}

/// Merges own sources (value, index among own args) with ROS ones (value, own args before it):
/// an own source at index `i` precedes a ROS source preceded by `n` own args iff `i < n`.
fn interleave<T>(
    own: impl Iterator<Item = (T, usize)>,
    ros: impl Iterator<Item = (T, usize)>,
) -> Vec<T> {
    let mut own = own.peekable();
    let mut out = Vec::new();
    for (v, after) in ros {
        while let Some((o, _)) = own.next_if(|(_, i)| *i < after) {
            out.push(o);
        }
        out.push(v);
    }
    out.extend(own.map(|(o, _)| o));
    out
}

/// Values found among the arguments, with their indices.
type Found = Vec<(usize, String)>;

/// Finds config files and overrides among sattva's own arguments, with their indices, in the
/// forms the argument parser accepts (`-c F`, `-cF`, `-c=F`, `--config F`, `--config=F`,
/// `--params-file F`, `--params-file=F`; likewise `-p`/`--param`). Stops at `--`.
fn scan_own(own: &[String]) -> (Found, Found) {
    let (mut files, mut params) = (Vec::new(), Vec::new());
    let mut i = 1;
    while i < own.len() {
        let a = own[i].as_str();
        if a == "--" {
            break;
        }
        let (is_file, is_param) = (
            matches!(a, "-c" | "--config" | "--params-file"),
            matches!(a, "-p" | "--param"),
        );
        if is_file || is_param {
            if let Some(v) = own.get(i + 1) {
                let to = if is_file { &mut files } else { &mut params };
                to.push((i, v.clone()));
            }
            i += 2;
            continue;
        }
        let inline = |long: &[&str], short: &str| {
            long.iter()
                .find_map(|l| a.strip_prefix(l).and_then(|r| r.strip_prefix('=')))
                .or_else(|| {
                    a.strip_prefix(short)
                        .filter(|_| !a.starts_with("--"))
                        .map(|r| r.strip_prefix('=').unwrap_or(r))
                        .filter(|r| !r.is_empty())
                })
                .map(str::to_string)
        };
        if let Some(v) = inline(&["--config", "--params-file"], "-c") {
            files.push((i, v));
        } else if let Some(v) = inline(&["--param"], "-p") {
            params.push((i, v));
        }
        i += 1;
    }
    (files, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_like_ros2_launch_passes_them() {
        let (own, ros) = split_ros_args(&s(&[
            "run",
            "--ros-args",
            "-r",
            "__node:=sattva",
            "--params-file",
            "/a.yaml",
            "--params-file",
            "/b.yaml",
            "-p",
            "seed:=3",
            "--",
            "--duration",
            "2",
        ]))
        .unwrap();
        assert_eq!(own, s(&["run", "--duration", "2"]));
        assert_eq!(
            ros.params_files,
            vec![PathBuf::from("/a.yaml"), PathBuf::from("/b.yaml")]
        );
        assert_eq!(ros.params, s(&["seed:=3"]));
        assert_eq!(ros.raw.first().map(String::as_str), Some("--ros-args"));
        assert_eq!(ros.raw.last().map(String::as_str), Some("--"));
    }

    #[test]
    fn no_ros_args_is_empty() {
        let (own, ros) = split_ros_args(&s(&["sim", "-c", "x.yaml"])).unwrap();
        assert_eq!(own.len(), 3);
        assert_eq!(ros, RosArgs::default());
    }

    /// Splits like `dispatch` does and orders the sources; the "parser" here is the scan itself
    /// (the CLI passes clap's values, which the scan must agree with).
    fn sources(v: &[&str]) -> ConfigSources {
        let (own, ros) = split_ros_args(&s(v)).unwrap();
        let (f, p) = scan_own(&own);
        let files: Vec<PathBuf> = f.into_iter().map(|(_, v)| PathBuf::from(v)).collect();
        let params: Vec<String> = p.into_iter().map(|(_, v)| v).collect();
        config_sources(&own, &files, &params, &ros)
    }

    fn paths(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn config_files_merge_in_command_line_order_on_both_sides_of_ros_args() {
        // the hardware/README.md robot command: -c then --params-file, no --ros-args
        let c = sources(&[
            "sattva",
            "run",
            "-c",
            "config/robot.yaml",
            "--params-file",
            "hardware/my_arm.yaml",
        ]);
        assert_eq!(
            c.files,
            paths(&["config/robot.yaml", "hardware/my_arm.yaml"])
        );
        // -c before --ros-args, another own file after the section
        let c = sources(&[
            "sattva",
            "run",
            "--config=a.yaml",
            "-p",
            "seed=1",
            "--ros-args",
            "--params-file",
            "b.yaml",
            "-p",
            "seed:=2",
            "--",
            "-cc.yaml",
            "--params-file=d.yaml",
            "--param=seed=3",
        ]);
        assert_eq!(c.files, paths(&["a.yaml", "b.yaml", "c.yaml", "d.yaml"]));
        assert_eq!(c.params, s(&["seed=1", "seed:=2", "seed=3"]));
        // ROS section first (how a user may type it), then -c
        let c = sources(&[
            "sattva",
            "--ros-args",
            "--params-file",
            "a.yaml",
            "--",
            "run",
            "-c",
            "b.yaml",
        ]);
        assert_eq!(c.files, paths(&["a.yaml", "b.yaml"]));
        // values after `--` are positional, not flags
        let (f, _) = scan_own(&s(&["sattva", "replay", "--", "-c"]));
        assert!(f.is_empty());
    }

    #[test]
    fn sources_the_scan_cannot_place_go_first() {
        let (own, ros) = split_ros_args(&s(&[
            "sattva",
            "run",
            "--ros-args",
            "--params-file",
            "b.yaml",
        ]))
        .unwrap();
        // the parser reports a file the scan did not see
        let c = config_sources(&own, &paths(&["a.yaml"]), &[], &ros);
        assert_eq!(c.files, paths(&["a.yaml", "b.yaml"]));
    }

    #[test]
    fn missing_value_is_an_error() {
        let e = split_ros_args(&s(&["run", "--ros-args", "--params-file"])).unwrap_err();
        assert_eq!(e, RosArgsError::MissingValue("--params-file".into()));
    }
}
