//! The robot of a MuJoCo model as the primitive library sees it ([`RobotBody`]): joint limits,
//! limbs inferred from the kinematic tree (or named in config), the arm's end effector and a
//! kinematics model on a private `mjData` (`mj_kinematics`, `mj_comPos`, `mj_jacSite` /
//! `mj_jacBody`) in the robot's base frame: a floating base is held at the origin, upright.
//!
//! `unsafe` here: one call to MuJoCo's `mj_jacSite`/`mj_jacBody` into a preallocated buffer
//! (mujoco-rs only offers allocating wrappers; the control task calls this every cycle).
#![allow(unsafe_code)]

use std::sync::Arc;

use mujoco_rs::mujoco_c::{mj_jacBody, mj_jacSite};
use mujoco_rs::prelude::*;

use crate::backend::body::{
    common_prefix, configured_groups, dist, infer_groups, Arm, BodyError, BodySpec, JointGroup,
    Kinematics, RobotBody,
};
use crate::types::MAX_JOINTS;

/// A point of the model whose position and Jacobian the kinematics give.
#[derive(Clone, Copy, Debug)]
enum Point {
    Site(usize),
    Body(usize),
}

/// Forward kinematics on a private copy of the model's state.
pub struct MujocoKinematics {
    data: MjData<Arc<MjModel>>,
    qpos_adr: Vec<usize>,
    dof_adr: Vec<usize>,
    points: Vec<Point>,
    /// `3 x nv` translational Jacobian, row-major (MuJoCo's layout).
    jacp: Vec<f64>,
}

impl MujocoKinematics {
    fn new(
        model: Arc<MjModel>,
        keyframe: Option<usize>,
        home: Option<&[f64]>,
        qpos_adr: Vec<usize>,
        dof_adr: Vec<usize>,
    ) -> Result<MujocoKinematics, String> {
        let nv = model.ffi().nv as usize;
        let mut data = MjData::try_new(model.clone()).map_err(|e| e.to_string())?;
        if let Some(k) = keyframe {
            data.reset_keyframe(k).map_err(|e| e.to_string())?;
        }
        {
            let qpos = data.qpos_mut();
            for (&a, &v) in qpos_adr.iter().zip(home.unwrap_or(&[])) {
                qpos[a] = v;
            }
            // floating bases at the origin, upright: the base frame is the world frame
            for j in 0..model.ffi().njnt as usize {
                if model.jnt_type()[j] == MjtJoint::mjJNT_FREE {
                    let a = model.jnt_qposadr()[j] as usize;
                    if a + 7 <= qpos.len() {
                        qpos[a..a + 7].copy_from_slice(&[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
                    }
                }
            }
        }
        let mut k = MujocoKinematics {
            data,
            qpos_adr,
            dof_adr,
            points: Vec::new(),
            jacp: vec![0.0; 3 * nv],
        };
        k.update();
        Ok(k)
    }

    fn update(&mut self) {
        self.data.kinematics();
        self.data.com_pos();
    }

    fn add(&mut self, p: Point) -> usize {
        self.points.push(p);
        self.points.len() - 1
    }

    fn position(&self, p: Point) -> [f64; 3] {
        match p {
            Point::Site(s) => self.data.site_xpos()[s],
            Point::Body(b) => self.data.xpos()[b],
        }
    }

    /// Current joint positions (command order).
    fn q(&self) -> Vec<f64> {
        let qpos = self.data.qpos();
        self.qpos_adr.iter().map(|&a| qpos[a]).collect()
    }
}

impl Kinematics for MujocoKinematics {
    fn set(&mut self, q: &[f64]) {
        let qpos = self.data.qpos_mut();
        for (&a, &v) in self.qpos_adr.iter().zip(q) {
            if v.is_finite() {
                qpos[a] = v;
            }
        }
        self.update();
    }

    fn point(&mut self, p: usize, pos: &mut [f64; 3], jac: &mut [[f64; 3]; MAX_JOINTS]) -> bool {
        let Some(&pt) = self.points.get(p) else {
            return false;
        };
        let nv = self.jacp.len() / 3;
        let (m, d) = (self.data.model().ffi(), self.data.ffi());
        // SAFETY: `m` and `d` are the live model and data of `self.data` (mj_kinematics and
        // mj_comPos ran on them in `set`/`new`); `jacp` holds 3 x nv values as mj_jac* writes;
        // the site/body ids were checked against the model when the point was added; jacr is
        // null (not computed), which MuJoCo allows.
        unsafe {
            match pt {
                Point::Site(s) => {
                    mj_jacSite(m, d, self.jacp.as_mut_ptr(), std::ptr::null_mut(), s as i32)
                }
                Point::Body(b) => {
                    mj_jacBody(m, d, self.jacp.as_mut_ptr(), std::ptr::null_mut(), b as i32)
                }
            }
        }
        *pos = self.position(pt);
        for (j, &dof) in self.dof_adr.iter().enumerate().take(MAX_JOINTS) {
            for (r, v) in jac[j].iter_mut().enumerate() {
                *v = self.jacp[r * nv + dof];
            }
        }
        true
    }
}

/// Describes the robot of the model file `path` (MJCF, or URDF through MuJoCo's importer) for
/// the joints `names` (command order, named as in the model), at the model's default pose: a
/// real robot's kinematics for task-space primitives (`robot.model`). `key` is the config key
/// of the file, named in errors.
pub fn describe_file(
    path: &std::path::Path,
    key: &str,
    names: &[String],
    spec: &BodySpec,
) -> Result<RobotBody, BodyError> {
    let model = MjModel::from_xml(path).map_err(|e| BodyError::Model {
        key: key.into(),
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    let names_key = key
        .rsplit_once('.')
        .map_or("joint_names".to_string(), |(s, _)| {
            format!("{s}.joint_names")
        });
    describe(&Arc::new(model), names, &names_key, None, None, None, spec)
}

/// Describes the robot of `model` for the configured joints `names` (command order; the config
/// key `names_key`, named in errors) at the start pose (`keyframe`, or the model's qpos0), with
/// the scene's object body (if any).
pub fn describe(
    model: &Arc<MjModel>,
    names: &[String],
    names_key: &str,
    keyframe: Option<usize>,
    home: Option<&[f64]>,
    object: Option<usize>,
    spec: &BodySpec,
) -> Result<RobotBody, BodyError> {
    let lookup = |obj, n: &str| model.name_to_id(obj, n);
    let mut joint_ids = Vec::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        let id = lookup(MjtObjBase::mjOBJ_JOINT, n).ok_or_else(|| BodyError::Unknown {
            key: format!("{names_key}[{i}]"),
            what: "joint",
            name: n.clone(),
            have: all_names(model, MjtObjBase::mjOBJ_JOINT, model.ffi().njnt as usize),
        })?;
        joint_ids.push(id);
    }
    let limits: Vec<(f64, f64)> = joint_ids
        .iter()
        .map(|&id| {
            let r = model.jnt_range()[id];
            if model.jnt_limited()[id] {
                (r[0], r[1])
            } else {
                (f64::NEG_INFINITY, f64::INFINITY)
            }
        })
        .collect();
    let qpos_adr: Vec<usize> = joint_ids
        .iter()
        .map(|&id| model.jnt_qposadr()[id] as usize)
        .collect();
    let dof_adr: Vec<usize> = joint_ids
        .iter()
        .map(|&id| model.jnt_dofadr()[id] as usize)
        .collect();
    let joint_body: Vec<usize> = joint_ids
        .iter()
        .map(|&id| model.jnt_bodyid()[id] as usize)
        .collect();
    let nbody = model.ffi().nbody as usize;
    let parent: Vec<usize> = (0..nbody)
        .map(|b| model.body_parentid()[b].max(0) as usize)
        .collect();
    let mut kin =
        MujocoKinematics::new(model.clone(), keyframe, home, qpos_adr, dof_adr).map_err(|e| {
            BodyError::Unknown {
                key: "mujoco.model".into(),
                what: "usable state",
                name: e,
                have: String::new(),
            }
        })?;
    // limbs: configured or inferred from the tree
    let mut groups = configured_groups(names, spec)?;
    if groups.is_empty() {
        let inferred = infer_groups(&parent, &joint_body);
        let mut named: Vec<String> = inferred
            .iter()
            .map(|(_, js)| {
                let ns: Vec<&str> = js.iter().map(|&j| names[j].as_str()).collect();
                common_prefix(&ns).unwrap_or_default()
            })
            .collect();
        for (i, (key, _)) in inferred.iter().enumerate() {
            let clash = named[i].is_empty() || named.iter().filter(|n| **n == named[i]).count() > 1;
            if clash {
                let body = model
                    .id_to_name(MjtObjBase::mjOBJ_BODY, *key)
                    .unwrap_or("limb");
                named[i] = body.trim_end_matches("_link").to_string();
            }
        }
        // still equal (unnamed bodies): number them
        for i in 0..named.len() {
            if named[..i].contains(&named[i]) {
                named[i] = format!("{}_{i}", named[i]);
            }
        }
        groups = inferred
            .into_iter()
            .zip(named)
            .map(|((_, joints), name)| JointGroup {
                name,
                joints,
                tip: None,
                below_base: false,
                length: 0.0,
            })
            .collect();
    }
    // the base: the parent of the topmost body carrying a commanded joint
    let base_body = joint_body
        .iter()
        .map(|&b| {
            let mut x = b;
            while parent[x] != 0 && joint_body.contains(&parent[x]) {
                x = parent[x];
            }
            parent[x]
        })
        .next()
        .unwrap_or(0);
    let base_pos = kin.position(Point::Body(base_body));
    // tips: the deepest joint's body, followed down while the chain does not branch
    for g in &mut groups {
        let deepest = g
            .joints
            .iter()
            .copied()
            .max_by_key(|&j| depth(&parent, joint_body[j]))
            .map(|j| joint_body[j]);
        let Some(mut tip) = deepest else { continue };
        loop {
            let kids: Vec<usize> = (1..nbody).filter(|&b| parent[b] == tip).collect();
            if kids.len() == 1 {
                tip = kids[0];
            } else {
                break;
            }
        }
        let first = g.joints[0];
        let anchor = kin.data.xanchor()[joint_ids[first]];
        let p = kin.position(Point::Body(tip));
        g.length = dist(anchor, p);
        g.below_base = p[2] < base_pos[2] - 0.25 * g.length;
        g.tip = Some(kin.add(Point::Body(tip)));
    }
    // the arm's end effector
    let arm = match spec.end_effector {
        None => None,
        Some(name) => {
            let (pt, body) = if let Some(s) = lookup(MjtObjBase::mjOBJ_SITE, name) {
                (Point::Site(s), model.site_bodyid()[s] as usize)
            } else if let Some(b) = lookup(MjtObjBase::mjOBJ_BODY, name) {
                (Point::Body(b), b)
            } else {
                let mut have = all_names(model, MjtObjBase::mjOBJ_SITE, model.ffi().nsite as usize);
                if have.is_empty() {
                    have = "no sites".into();
                }
                return Err(BodyError::Unknown {
                    key: "action.primitives.end_effector".into(),
                    what: "site or body",
                    name: name.into(),
                    have,
                });
            };
            // the chain: commanded joints on the path from the end effector's body to the root
            let mut chain: Vec<usize> = (0..names.len())
                .filter(|&j| is_ancestor(&parent, joint_body[j], body))
                .collect();
            chain.sort_by_key(|&j| depth(&parent, joint_body[j]));
            if chain.is_empty() {
                return Err(BodyError::Unknown {
                    key: "action.primitives.end_effector".into(),
                    what: "commanded joint moving",
                    name: name.into(),
                    have: names.join(", "),
                });
            }
            let ee = kin.position(pt);
            let anchors: Vec<[f64; 3]> = chain
                .iter()
                .map(|&j| kin.data.xanchor()[joint_ids[j]])
                .collect();
            let mut reach = 0.0;
            for w in anchors.windows(2) {
                reach += dist(w[0], w[1]);
            }
            reach += dist(anchors[anchors.len() - 1], ee);
            let base = anchors[0];
            let (fx, fy) = (ee[0] - base[0], ee[1] - base[1]);
            let n = (fx * fx + fy * fy).sqrt();
            let forward = if n > 1e-6 {
                [fx / n, fy / n, 0.0]
            } else {
                [1.0, 0.0, 0.0]
            };
            Some(Arm {
                point: kin.add(pt),
                joints: chain,
                reach,
                forward,
                base,
            })
        }
    };
    let object = object.map(|b| kin.position(Point::Body(b)));
    debug_assert_eq!(kin.q().len(), names.len());
    Ok(RobotBody {
        joint_names: names.to_vec(),
        limits,
        groups,
        arm,
        kinematics: Some(Box::new(kin)),
        object,
    })
}

fn depth(parent: &[usize], mut b: usize) -> usize {
    let mut d = 0;
    while b != 0 && d < parent.len() {
        b = parent[b];
        d += 1;
    }
    d
}

/// `a` is `b` or one of its ancestors.
fn is_ancestor(parent: &[usize], a: usize, mut b: usize) -> bool {
    for _ in 0..=parent.len() {
        if a == b {
            return true;
        }
        if b == 0 {
            return false;
        }
        b = parent[b];
    }
    false
}

fn all_names(model: &MjModel, obj: MjtObjBase, n: usize) -> String {
    (0..n)
        .filter_map(|i| model.id_to_name(obj, i))
        .collect::<Vec<_>>()
        .join(", ")
}
