//! What the action stage knows of the robot it drives: its commanded joints (names, limits), how
//! they form limbs (joint groups with a tip), the end effector of an arm, the scene's object, and
//! a forward-kinematics model for task-space motion. The backend describes its robot
//! ([`super::Backend::body`]: MuJoCo from the MJCF's kinematic tree; other backends from the joint list
//! alone) and the primitive library (`action::primitive::PrimitiveSet`) is generated from it:
//! no robot names live in code.

use crate::types::MAX_JOINTS;

/// A limb: joints that move one chain of the robot (a leg, an arm, the waist, a gripper).
#[derive(Clone, Debug, PartialEq)]
pub struct JointGroup {
    /// Name (from config, or inferred from the joint names / the chain's first body).
    pub name: String,
    /// Indices of its joints in command order, proximal first.
    pub joints: Vec<usize>,
    /// Its tip as a kinematic point ([`Kinematics::point`]), when the body has kinematics.
    pub tip: Option<usize>,
    /// The tip at the start pose lies below the base (a leg standing on the floor).
    pub below_base: bool,
    /// Distance from the group's first joint to its tip at the start pose, m (0 without
    /// kinematics).
    pub length: f64,
}

/// The arm whose end effector the task-space primitives move (`action.primitives.end_effector`).
#[derive(Clone, Debug, PartialEq)]
pub struct Arm {
    /// The end effector as a kinematic point.
    pub point: usize,
    /// The joints that move it, proximal first.
    pub joints: Vec<usize>,
    /// Reach of the chain: the sum of the distances between its joints' anchors and to the end
    /// effector at the start pose, m.
    pub reach: f64,
    /// Horizontal unit vector from the chain's base to the end effector at the start pose
    /// ("forward" of the arm's primitives).
    pub forward: [f64; 3],
    /// Where its first joint sits (the chain's base), m.
    pub base: [f64; 3],
}

/// Forward kinematics of named points of the robot over the commanded joints, in the robot's
/// base frame (z up). Implementations evaluate without allocating (the control task calls them).
pub trait Kinematics: Send {
    /// Sets the joint positions (command order) every later [`Kinematics::point`] refers to.
    fn set(&mut self, q: &[f64]);
    /// Position of point `p` and its Jacobian: `jac[j]` = d position / d q_j for joint `j` of the
    /// command order. False when `p` is not a point of this model.
    fn point(&mut self, p: usize, pos: &mut [f64; 3], jac: &mut [[f64; 3]; MAX_JOINTS]) -> bool;
}

/// The robot as the primitive library sees it.
pub struct RobotBody {
    /// Commanded joints, command order.
    pub joint_names: Vec<String>,
    /// Their position limits (infinite when unlimited or unknown).
    pub limits: Vec<(f64, f64)>,
    /// The limbs.
    pub groups: Vec<JointGroup>,
    /// The arm, when an end effector is configured.
    pub arm: Option<Arm>,
    /// Kinematics, when the backend has a model of the robot.
    pub kinematics: Option<Box<dyn Kinematics>>,
    /// Home position of the scene's object, when there is one (object-directed primitives).
    pub object: Option<[f64; 3]>,
}

impl std::fmt::Debug for RobotBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RobotBody")
            .field("joint_names", &self.joint_names)
            .field("groups", &self.groups)
            .field("arm", &self.arm)
            .field("kinematics", &self.kinematics.is_some())
            .field("object", &self.object)
            .finish()
    }
}

impl RobotBody {
    /// A body known only by its joints: one group per configured group (or one group of all
    /// joints), no kinematics. What a backend without a robot model describes.
    pub fn from_joints(
        names: &[String],
        limits: &[(f64, f64)],
        spec: &BodySpec,
    ) -> Result<RobotBody, BodyError> {
        let groups = if spec.groups.is_none_or(|g| g.is_empty()) {
            vec![JointGroup {
                name: "body".into(),
                joints: (0..names.len()).collect(),
                tip: None,
                below_base: false,
                length: 0.0,
            }]
        } else {
            configured_groups(names, spec)?
        };
        if spec.end_effector.is_some() {
            tracing::warn!(
                "action.primitives.end_effector needs a kinematic model of the robot (the MuJoCo \
                 backend): joint-space primitives only"
            );
        }
        Ok(RobotBody {
            joint_names: names.to_vec(),
            limits: limits
                .iter()
                .copied()
                .chain(std::iter::repeat((f64::NEG_INFINITY, f64::INFINITY)))
                .take(names.len())
                .collect(),
            groups,
            arm: None,
            kinematics: None,
            object: None,
        })
    }
}

/// The groups of `action.primitives.groups` as joint indices; every name checked.
pub fn configured_groups(names: &[String], spec: &BodySpec) -> Result<Vec<JointGroup>, BodyError> {
    let Some(groups) = spec.groups else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(groups.len());
    for (g, joints) in groups {
        let mut idx = Vec::with_capacity(joints.len());
        for (k, j) in joints.iter().enumerate() {
            let i = names
                .iter()
                .position(|n| n == j)
                .ok_or_else(|| BodyError::Unknown {
                    key: format!("action.primitives.groups.{g}[{k}]"),
                    what: "joint",
                    name: j.clone(),
                    have: names.join(", "),
                })?;
            idx.push(i);
        }
        out.push(JointGroup {
            name: g.clone(),
            joints: idx,
            tip: None,
            below_base: false,
            length: 0.0,
        });
    }
    Ok(out)
}

/// A name in the primitives config that the robot lacks.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// A joint, site or body named in config that the model lacks.
    #[error("`{key}`: the robot has no {what} `{name}` (it has: {have})")]
    Unknown {
        /// The config key.
        key: String,
        /// joint / site / body.
        what: &'static str,
        /// The name given.
        name: String,
        /// What the model has.
        have: String,
    },
    /// The robot's model file (`robot.model`) could not be loaded.
    #[error("`{key}`: cannot load the robot model {file}: {message}")]
    Model {
        /// The config key.
        key: String,
        /// The file.
        file: String,
        /// MuJoCo's message.
        message: String,
    },
}

/// What the primitives config asks of the body (`action.primitives`): the arm's end effector
/// and named joint groups.
#[derive(Clone, Copy, Debug, Default)]
pub struct BodySpec<'a> {
    /// Site (or body) of the arm's end effector.
    pub end_effector: Option<&'a str>,
    /// Joint groups by name (empty: inferred).
    pub groups: Option<&'a std::collections::BTreeMap<String, Vec<String>>>,
}

/// Distance between two points.
pub fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Infers limbs from a kinematic tree: `parent[b]` of every body (`parent[0]` = 0 is the world),
/// `joint_body[j]` the body each commanded joint moves. A limb is the set of joints under one
/// branch: a joint's group is keyed by its nearest ancestor-or-self body whose parent has more
/// than one child subtree carrying commanded joints (or is the world / a floating base). Groups
/// are returned in order of their first joint; joints within a group keep command order.
pub fn infer_groups(parent: &[usize], joint_body: &[usize]) -> Vec<(usize, Vec<usize>)> {
    let n = parent.len();
    // bodies carrying commanded joints in their subtree, counted per child of each body
    let mut carries = vec![false; n];
    for &b in joint_body {
        let mut x = b;
        while x != 0 && x < n && !carries[x] {
            carries[x] = true;
            x = parent[x];
        }
    }
    let mut branches = vec![0usize; n];
    for b in 1..n {
        if carries[b] {
            branches[parent[b].min(n - 1)] += 1;
        }
    }
    // the root of the robot: the topmost body carrying joints below the world
    let key_of = |b: usize| -> usize {
        let mut x = b;
        loop {
            let p = parent[x];
            if p == 0 || branches[p] > 1 || x == p {
                return x;
            }
            x = p;
        }
    };
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for (j, &b) in joint_body.iter().enumerate() {
        let k = key_of(b.min(n - 1));
        match groups.iter_mut().find(|(key, _)| *key == k) {
            Some((_, v)) => v.push(j),
            None => groups.push((k, vec![j])),
        }
    }
    groups
}

/// A name for a group from its joints' names: their common prefix without a trailing `_`/`-`
/// (`FL_hip_joint`, `FL_thigh_joint` -> `FL`); `None` when they share none.
pub fn common_prefix(names: &[&str]) -> Option<String> {
    let first = names.first()?;
    let mut len = first.len();
    for n in &names[1..] {
        len = len.min(
            first
                .bytes()
                .zip(n.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    if names.len() == 1 {
        // a single joint: its name without a `_joint` suffix
        return Some(first.trim_end_matches("_joint").to_string());
    }
    let p = first[..len].trim_end_matches(['_', '-', '.']);
    (!p.is_empty()).then(|| p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_a_quadruped_a_humanoid_and_an_arm() {
        // world(0) <- trunk(1) <- 4 legs of 3 bodies each (hip, thigh, calf)
        let mut parent = vec![0, 0];
        let mut jb = Vec::new();
        for _leg in 0..4 {
            let hip = parent.len();
            parent.push(1);
            parent.push(hip);
            parent.push(hip + 1);
            jb.extend([hip, hip + 1, hip + 2]);
        }
        let g = infer_groups(&parent, &jb);
        assert_eq!(g.len(), 4);
        assert_eq!(g[0].1, vec![0, 1, 2]);
        assert_eq!(g[3].1, vec![9, 10, 11]);
        // humanoid: pelvis(1) <- leg L(2,3), leg R(4,5), waist(6) <- torso(7) <- arm L(8), R(9)
        let parent = vec![0, 0, 1, 2, 1, 4, 1, 6, 7, 7];
        let jb = vec![2, 3, 4, 5, 6, 7, 8, 9];
        let g = infer_groups(&parent, &jb);
        let sets: Vec<Vec<usize>> = g.into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            sets,
            vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6], vec![7]]
        );
        // a serial arm: one group
        let parent = vec![0, 0, 1, 2, 3];
        let g = infer_groups(&parent, &[1, 2, 3, 4]);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].1, vec![0, 1, 2, 3]);
    }

    #[test]
    fn prefixes_name_groups() {
        assert_eq!(
            common_prefix(&["FL_hip_joint", "FL_thigh_joint"]).as_deref(),
            Some("FL")
        );
        assert_eq!(
            common_prefix(&["joint_1", "joint_2"]).as_deref(),
            Some("joint")
        );
        assert_eq!(common_prefix(&["a", "b"]), None);
        assert_eq!(common_prefix(&["neck_joint"]).as_deref(), Some("neck"));
    }

    #[test]
    fn configured_groups_name_missing_joints() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let mut groups = std::collections::BTreeMap::new();
        groups.insert("leg".to_string(), vec!["a".to_string(), "knee".to_string()]);
        let spec = BodySpec {
            end_effector: None,
            groups: Some(&groups),
        };
        let e = configured_groups(&names, &spec).unwrap_err().to_string();
        assert!(e.contains("action.primitives.groups.leg[1]"), "{e}");
        assert!(e.contains("`knee`") && e.contains("a, b"), "{e}");
    }
}
