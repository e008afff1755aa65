//! `--ros-args` handling: the same command line `ros2 run` / `ros2 launch` produce works for the
//! standalone binary. sattva reads `--params-file` and `-p name:=value` itself (so its typed
//! config and its error messages apply), and rcl sees the very same arguments.

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
                    "--params-file" => ros.params_files.push(PathBuf::from(v)),
                    "-p" | "--param" => ros.params.push(v.clone()),
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

    #[test]
    fn missing_value_is_an_error() {
        let e = split_ros_args(&s(&["run", "--ros-args", "--params-file"])).unwrap_err();
        assert_eq!(e, RosArgsError::MissingValue("--params-file".into()));
    }
}
