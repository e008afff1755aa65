//! Snapshots: a versioned binary image of the substrate with a SHA-256 checksum and lineage,
//! written atomically, optionally from a background writer thread.
//!
//! Format (little-endian):
//!
//! ```text
//! "SATTVASB" (8 bytes) | version u32 | reserved u32
//! lineage:  step u64 | parent hash [32] | config hash [32] | config YAML (u32 len + bytes)
//! state:    counters, cursors, previous experience, index graph scalars, rng state
//! per slot: meta, node info, center (D f32), level-0 links, upper links, edges
//! labels:   count, then (slot, n, n strings)
//! actions:  (version 2) count, then (slot, bins, joints, duration f32, bins x joints f32)
//! trailer:  SHA-256 of everything before it (this is the snapshot's hash)
//! ```
//!
//! Writing goes to `<path>.tmp`, is fsynced, renamed over `<path>`, and the directory is fsynced:
//! a crash at any point leaves either the old or the new complete file at `<path>`.
//! [`Substrate::snapshot_view`] clones only group pointers (copy-on-write), so a writer thread
//! can serialise while learning continues; the learner copies a chunk only when it writes it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::cow::{CowRows, HugeRows};
use super::index::{NodeInfo, Upper};
use super::{ActionMemory, Counters, Edge, Meta, Substrate, SubstrateConfig};
use crate::types::Time;

/// Magic bytes at the start of a snapshot file.
pub const MAGIC: &[u8; 8] = b"SATTVASB";
/// Format version written by this build. Version 1 (no action memories) is still read: its
/// attractors load with empty action memories.
const VERSION: u32 = 2;
/// The oldest format version this build reads.
const OLDEST: u32 = 1;

/// Errors while writing or loading a snapshot. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// An OS error.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a snapshot file.
    #[error("{path}: not a sattva substrate snapshot (bad magic)")]
    Magic {
        /// The file.
        path: PathBuf,
    },
    /// Written by another format version.
    #[error(
        "{path}: snapshot format version {found}, this build reads versions {OLDEST} to {VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
    },
    /// The checksum does not match: the file is truncated or corrupt.
    #[error("{path}: checksum mismatch ({len} bytes): the snapshot is truncated or corrupt")]
    Checksum {
        /// The file.
        path: PathBuf,
        /// File length.
        len: usize,
    },
    /// The content is inconsistent although the checksum matched.
    #[error("{path}: malformed snapshot at byte {offset}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Offset of the problem.
        offset: usize,
        /// What is wrong.
        message: String,
    },
}

/// Identity of a written or loaded snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// SHA-256 of the file's content (the trailer): this snapshot's hash.
    pub hash: [u8; 32],
    /// Hash of the snapshot this state descends from (zeros for none).
    pub parent: [u8; 32],
    /// Learning steps at the time of the snapshot.
    pub step: u64,
    /// Hash of the substrate config.
    pub config_hash: [u8; 32],
    /// File size in bytes.
    pub bytes: u64,
}

/// A frozen, cheaply cloned state of a substrate, ready to be written by any thread.
#[derive(Clone)]
pub struct SnapshotView {
    cfg: SubstrateConfig,
    /// Parent hash written into the file.
    pub parent: [u8; 32],
    step: u64,
    counters: Counters,
    sweep_cursor: u64,
    evict_cursor: u64,
    prev: Option<(u32, u32)>,
    entry: Option<u32>,
    max_level: u32,
    rng: ChaCha8Rng,
    vectors: HugeRows,
    links0: CowRows<u32>,
    upper: CowRows<Upper>,
    nodes: CowRows<NodeInfo>,
    meta: CowRows<Meta>,
    edges: CowRows<Edge>,
    labels: Arc<BTreeMap<u32, Vec<String>>>,
    actions: Arc<BTreeMap<u32, ActionMemory>>,
}

impl Substrate {
    /// A copy-on-write view of the current state: one `Arc` clone per 16384 attractors and table
    /// (plus the labels map), so it can be taken on the learning thread every period.
    pub fn snapshot_view(&self) -> SnapshotView {
        SnapshotView {
            cfg: self.cfg.clone(),
            parent: self.parent_hash,
            step: self.step,
            counters: self.counters,
            sweep_cursor: self.sweep_cursor as u64,
            evict_cursor: self.evict_cursor as u64,
            prev: self.prev,
            entry: self.index.entry,
            max_level: self.index.max_level as u32,
            rng: self.index.rng.clone(),
            vectors: self.index.vectors.clone(),
            links0: self.index.links0.clone(),
            upper: self.index.upper.clone(),
            nodes: self.index.nodes.clone(),
            meta: self.meta.clone(),
            edges: self.edges.clone(),
            labels: Arc::clone(&self.labels),
            actions: Arc::clone(&self.actions),
        }
    }

    /// Writes a snapshot synchronously; the next snapshot names this one as its parent.
    pub fn save(&mut self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        let info = self.snapshot_view().write(path)?;
        self.parent_hash = info.hash;
        Ok(info)
    }

    /// Records `hash` as the parent of the next snapshot (e.g. after a background write).
    pub fn set_parent_hash(&mut self, hash: [u8; 32]) {
        self.parent_hash = hash;
    }

    /// Loads a snapshot, verifying magic, version and checksum before anything else. The
    /// substrate takes the config stored in the file; compare `info.config_hash` with the
    /// current config's hash to detect a config change.
    pub fn load(path: &Path) -> Result<(Substrate, SnapshotInfo), SnapshotError> {
        let bytes = std::fs::read(path).map_err(|source| SnapshotError::Io {
            path: path.to_path_buf(),
            what: "cannot read snapshot",
            source,
        })?;
        decode(path, &bytes)
    }
}

impl SnapshotView {
    /// Learning steps at the time of the view.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Writes the view atomically to `path` (temp file, fsync, rename, fsync directory).
    pub fn write(&self, path: &Path) -> Result<SnapshotInfo, SnapshotError> {
        let io = |what: &'static str| {
            let p = path.to_path_buf();
            move |source| SnapshotError::Io {
                path: p,
                what,
                source,
            }
        };
        let tmp = tmp_path(path);
        let file = File::create(&tmp).map_err(io("cannot create temp file"))?;
        let mut w = HashWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            bytes: 0,
        };
        self.encode(&mut w).map_err(io("cannot write snapshot"))?;
        let hash: [u8; 32] = w.hash.clone().finalize().into();
        w.inner.write_all(&hash).map_err(io("cannot write"))?;
        let bytes = w.bytes + 32;
        let file = w
            .inner
            .into_inner()
            .map_err(|e| e.into_error())
            .map_err(io("cannot flush"))?;
        file.sync_all().map_err(io("cannot fsync temp file"))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(io("cannot rename temp file over snapshot"))?;
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("cannot fsync directory"))?;
        Ok(SnapshotInfo {
            hash,
            parent: self.parent,
            step: self.step,
            config_hash: self.cfg.hash(),
            bytes,
        })
    }

    /// SHA-256 of the learned state alone: the snapshot's content with the lineage (parent
    /// hash) left out, so two runs that learned the same thing hash the same whatever
    /// snapshots they wrote on the way.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut v = self.clone();
        v.parent = [0; 32];
        let mut w = HashWriter {
            inner: std::io::sink(),
            hash: Sha256::new(),
            bytes: 0,
        };
        // writing to a sink cannot fail
        let _ = v.encode(&mut w);
        w.hash.finalize().into()
    }

    fn encode(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(MAGIC)?;
        put_u32(w, VERSION)?;
        put_u32(w, 0)?;
        put_u64(w, self.step)?;
        w.write_all(&self.parent)?;
        w.write_all(&self.cfg.hash())?;
        let yaml = self.cfg.to_yaml();
        put_u32(w, yaml.len() as u32)?;
        w.write_all(yaml.as_bytes())?;
        let c = &self.counters;
        for v in [c.created, c.strengthened, c.merged, c.pruned, c.evicted] {
            put_u64(w, v)?;
        }
        put_u64(w, self.sweep_cursor)?;
        put_u64(w, self.evict_cursor)?;
        let (ps, pg) = self.prev.unwrap_or((u32::MAX, 0));
        put_u32(w, ps)?;
        put_u32(w, pg)?;
        put_u32(w, self.entry.unwrap_or(u32::MAX))?;
        put_u32(w, self.max_level)?;
        w.write_all(&self.rng.get_seed())?;
        put_u64(w, self.rng.get_stream())?;
        w.write_all(&self.rng.get_word_pos().to_le_bytes())?;
        let n = self.meta.len();
        put_u32(w, n as u32)?;
        put_u32(w, self.vectors.width() as u32)?;
        put_u32(w, self.links0.width() as u32)?;
        put_u32(w, self.edges.width() as u32)?;
        for i in 0..n {
            let m = self.meta.row(i)[0];
            put_u32(w, m.generation)?;
            w.write_all(&[m.live as u8])?;
            put_f32(w, m.strength)?;
            put_u64(w, m.count)?;
            put_f32(w, m.radius)?;
            put_u64(w, m.last.0 as u64)?;
            put_u64(w, m.created.0 as u64)?;
            let nd = self.nodes.row(i)[0];
            w.write_all(&[nd.level, nd.live as u8])?;
            put_f32(w, nd.drift)?;
            for &x in self.vectors.row(i) {
                put_f32(w, x)?;
            }
            for &x in self.links0.row(i) {
                put_u32(w, x)?;
            }
            match &self.upper.row(i)[0] {
                None => put_u32(w, 0)?,
                Some(u) => {
                    put_u32(w, u.len() as u32)?;
                    for l in u.iter() {
                        put_u32(w, l.len() as u32)?;
                        for &x in l {
                            put_u32(w, x)?;
                        }
                    }
                }
            }
            for e in self.edges.row(i) {
                put_u32(w, e.target)?;
                put_u32(w, e.generation)?;
                put_f32(w, e.weight)?;
            }
        }
        put_u32(w, self.labels.len() as u32)?;
        for (slot, ls) in self.labels.iter() {
            put_u32(w, *slot)?;
            put_u32(w, ls.len() as u32)?;
            for l in ls {
                put_u32(w, l.len() as u32)?;
                w.write_all(l.as_bytes())?;
            }
        }
        put_u32(w, self.actions.len() as u32)?;
        for (slot, a) in self.actions.iter() {
            put_u32(w, *slot)?;
            put_u32(w, a.bins)?;
            put_u32(w, a.joints)?;
            put_f32(w, a.duration_s)?;
            for &x in &a.profile {
                put_f32(w, x)?;
            }
        }
        Ok(())
    }
}

/// `<path>.tmp`: where a snapshot is written before the rename.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

struct HashWriter<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn put_u32(w: &mut impl Write, v: u32) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
fn put_u64(w: &mut impl Write, v: u64) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}
fn put_f32(w: &mut impl Write, v: f32) -> std::io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

struct Reader<'a> {
    path: &'a Path,
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn bad(&self, message: impl Into<String>) -> SnapshotError {
        SnapshotError::Malformed {
            path: self.path.to_path_buf(),
            offset: self.pos,
            message: message.into(),
        }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], SnapshotError> {
        if self.buf.len() - self.pos < n {
            return Err(self.bad(format!("ends while reading {what}")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], SnapshotError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn u8(&mut self, what: &str) -> Result<u8, SnapshotError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    fn f32(&mut self, what: &str) -> Result<f32, SnapshotError> {
        Ok(f32::from_le_bytes(self.arr(what)?))
    }
    fn str(&mut self, what: &str) -> Result<String, SnapshotError> {
        let n = self.u32(what)? as usize;
        let b = self.take(n, what)?.to_vec();
        String::from_utf8(b).map_err(|_| self.bad(format!("{what} is not UTF-8")))
    }
}

fn decode(path: &Path, bytes: &[u8]) -> Result<(Substrate, SnapshotInfo), SnapshotError> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::Magic {
            path: path.to_path_buf(),
        });
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if !(OLDEST..=VERSION).contains(&version) {
        return Err(SnapshotError::Version {
            path: path.to_path_buf(),
            found: version,
        });
    }
    let checksum_err = || SnapshotError::Checksum {
        path: path.to_path_buf(),
        len: bytes.len(),
    };
    if bytes.len() < 16 + 32 {
        return Err(checksum_err());
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 32);
    let hash: [u8; 32] = Sha256::digest(body).into();
    if hash[..] != trailer[..] {
        return Err(checksum_err());
    }
    let mut r = Reader {
        path,
        buf: body,
        pos: 16,
    };
    let step = r.u64("step")?;
    let parent: [u8; 32] = r.arr("parent hash")?;
    let config_hash: [u8; 32] = r.arr("config hash")?;
    let yaml = r.str("config")?;
    let cfg: SubstrateConfig =
        serde_norway::from_str(&yaml).map_err(|e| r.bad(format!("config: {e}")))?;
    if cfg.hash() != config_hash {
        return Err(r.bad("config hash does not match the stored config"));
    }
    let mut s = Substrate::new(cfg).map_err(|e| r.bad(e.to_string()))?;
    let mut c = Counters::default();
    for v in [
        &mut c.created,
        &mut c.strengthened,
        &mut c.merged,
        &mut c.pruned,
        &mut c.evicted,
    ] {
        *v = r.u64("counters")?;
    }
    let sweep_cursor = r.u64("sweep cursor")? as usize;
    let evict_cursor = r.u64("evict cursor")? as usize;
    let (ps, pg) = (r.u32("prev")?, r.u32("prev")?);
    let entry = r.u32("entry")?;
    let max_level = r.u32("max level")? as usize;
    let seed: [u8; 32] = r.arr("rng seed")?;
    let stream = r.u64("rng stream")?;
    let word_pos = u128::from_le_bytes(r.arr("rng position")?);
    let n = r.u32("slot count")? as usize;
    let dim = r.u32("dim")? as usize;
    let l0w = r.u32("link width")? as usize;
    let ew = r.u32("edge width")? as usize;
    if dim != s.dim || l0w != s.index.links0.width() || ew != s.edges.width() {
        return Err(r.bad("row widths do not match the stored config"));
    }
    let mut live = 0usize;
    for i in 0..n {
        let m = Meta {
            generation: r.u32("meta")?,
            live: r.u8("meta")? != 0,
            strength: r.f32("meta")?,
            count: r.u64("meta")?,
            radius: r.f32("meta")?,
            last: Time(r.u64("meta")? as i64),
            created: Time(r.u64("meta")? as i64),
        };
        let nd = NodeInfo {
            level: r.u8("node")?,
            live: r.u8("node")? != 0,
            drift: r.f32("node")?,
        };
        if nd.live != m.live || nd.level > 16 {
            return Err(r.bad(format!("slot {i}: inconsistent node")));
        }
        s.meta.push(m);
        s.edges.push(Edge::default());
        s.index.vectors.push(0.0);
        s.index.links0.push(0);
        s.index.upper.push(None);
        s.index.nodes.push(nd);
        for x in s.index.vectors.row_mut(i) {
            *x = r.f32("center")?;
        }
        for j in 0..l0w {
            let v = r.u32("links")?;
            s.index.links0.row_mut(i)[j] = v;
        }
        let row = s.index.links0.row(i);
        if row[0] as usize >= l0w || row[1..1 + row[0] as usize].iter().any(|&x| x as usize >= n) {
            return Err(r.bad(format!("slot {i}: bad level-0 links")));
        }
        let levels = r.u32("upper")? as usize;
        if levels > 16 {
            return Err(r.bad(format!("slot {i}: {levels} levels")));
        }
        if levels > 0 {
            let mut u = Vec::with_capacity(levels);
            for _ in 0..levels {
                let k = r.u32("upper links")? as usize;
                if k > 256 {
                    return Err(r.bad(format!("slot {i}: {k} upper links")));
                }
                let mut l = Vec::with_capacity(k);
                for _ in 0..k {
                    let x = r.u32("upper links")?;
                    if x as usize >= n {
                        return Err(r.bad(format!("slot {i}: link to {x} of {n}")));
                    }
                    l.push(x);
                }
                u.push(l);
            }
            s.index.upper.row_mut(i)[0] = Some(Arc::new(u));
        }
        for j in 0..ew {
            let e = Edge {
                target: r.u32("edge")?,
                generation: r.u32("edge")?,
                weight: r.f32("edge")?,
            };
            s.edges.row_mut(i)[j] = e;
        }
        if m.live {
            live += 1;
        } else {
            s.free.push(i as u32);
        }
    }
    let nl = r.u32("labels")?;
    for _ in 0..nl {
        let slot = r.u32("label slot")?;
        let k = r.u32("label count")?;
        let mut v = Vec::new();
        for _ in 0..k {
            v.push(r.str("label")?);
        }
        Arc::make_mut(&mut s.labels).insert(slot, v);
    }
    if version >= 2 {
        let na = r.u32("actions")?;
        for _ in 0..na {
            let slot = r.u32("action slot")?;
            let bins = r.u32("action bins")? as usize;
            let joints = r.u32("action joints")? as usize;
            let duration = r.f32("action duration")?;
            if slot as usize >= n || bins * joints > 1 << 20 {
                return Err(r.bad(format!("action of slot {slot}: bad slot or shape")));
            }
            let mut v = Vec::with_capacity(bins * joints);
            for _ in 0..bins * joints {
                v.push(r.f32("action profile")?);
            }
            let a = ActionMemory::new(bins, joints, duration, &v)
                .ok_or_else(|| r.bad(format!("action of slot {slot}: invalid values")))?;
            Arc::make_mut(&mut s.actions).insert(slot, a);
        }
    }
    if r.pos != body.len() {
        return Err(r.bad("trailing bytes"));
    }
    if (entry != u32::MAX && entry as usize >= n) || (ps != u32::MAX && ps as usize >= n) {
        return Err(r.bad("entry or previous slot out of range"));
    }
    s.free.reverse();
    s.counters = c;
    s.step = step;
    s.sweep_cursor = sweep_cursor;
    s.evict_cursor = evict_cursor;
    s.prev = (ps != u32::MAX).then_some((ps, pg));
    s.parent_hash = hash;
    s.index.entry = (entry != u32::MAX).then_some(entry);
    s.index.max_level = max_level;
    s.index.live = live;
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::from_seed(seed);
    rng.set_stream(stream);
    rng.set_word_pos(word_pos);
    s.index.rng = rng;
    s.index.reset_scratch();
    let info = SnapshotInfo {
        hash,
        parent,
        step,
        config_hash,
        bytes: bytes.len() as u64,
    };
    Ok((s, info))
}

/// A background thread that writes snapshot views to one path, keeping the lineage chain.
/// [`SnapshotWriter::submit`] never blocks: while a write is in progress a new view is refused.
pub struct SnapshotWriter {
    tx: Option<SyncSender<Box<SnapshotView>>>,
    results: Receiver<Result<SnapshotInfo, SnapshotError>>,
    handle: Option<JoinHandle<()>>,
}

impl SnapshotWriter {
    /// Starts the writer thread for `path`; `parent` is the hash of the snapshot the state
    /// descends from (zeros for none).
    pub fn spawn(path: PathBuf, parent: [u8; 32]) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Box<SnapshotView>>(0);
        let (rtx, results) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || {
                let mut last = parent;
                for mut view in rx {
                    view.parent = last;
                    let r = view.write(&path);
                    match &r {
                        Ok(info) => {
                            last = info.hash;
                            tracing::debug!(
                                step = info.step,
                                bytes = info.bytes,
                                "snapshot written"
                            );
                        }
                        Err(e) => tracing::warn!("snapshot failed: {e}"),
                    }
                    if rtx.send(r).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            results,
            handle: Some(handle),
        })
    }

    /// Hands a view to the writer; returns false (and drops the view) if it is busy.
    pub fn submit(&self, view: SnapshotView) -> bool {
        match self.tx.as_ref().map(|t| t.try_send(Box::new(view))) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_))) | Some(Err(TrySendError::Disconnected(_))) => false,
            None => false,
        }
    }

    /// Results of finished writes, oldest first (non-blocking).
    pub fn poll(&self) -> Vec<Result<SnapshotInfo, SnapshotError>> {
        self.results.try_iter().collect()
    }

    /// Waits for the pending write (if any) and stops the thread; returns the remaining results.
    pub fn finish(mut self) -> Vec<Result<SnapshotInfo, SnapshotError>> {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.results.try_iter().collect()
    }
}

impl Drop for SnapshotWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
