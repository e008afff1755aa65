//! `sattva bench substrate`: learn/activate latency at growing sizes, memory per attractor,
//! snapshot hand-off under load, and the index against FAISS `IndexHNSWFlat` on the same
//! exported vectors (clustered, not uniform), with exact ground truth.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::substrate::simd::{self, dot};
use crate::substrate::snapshot::SnapshotWriter;
use crate::substrate::{IndexConfig, Substrate, SubstrateConfig};
use crate::types::Time;

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad options.
    #[error("bench substrate: {0}")]
    Options(String),
    /// Substrate error.
    #[error("bench substrate: {0}")]
    Substrate(#[from] crate::substrate::SubstrateError),
    /// File error.
    #[error("bench substrate: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The FAISS reference failed.
    #[error("bench substrate: FAISS reference: {0}")]
    Faiss(String),
}

/// Options of the benchmark.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Attractor counts at which latency is measured (ascending; the substrate grows through them).
    pub sizes: Vec<usize>,
    /// Dimension.
    pub dim: usize,
    /// Timed operations per measurement.
    pub ops: usize,
    /// Queries for the index comparison.
    pub queries: usize,
    /// `ef_search` values swept for both indexes.
    pub ef: Vec<usize>,
    /// HNSW `M` for both indexes.
    pub m: usize,
    /// HNSW `efConstruction` for both indexes.
    pub ef_construction: usize,
    /// Candidate list size of learn()'s search (ours only; FAISS has no learning step).
    pub ef_learn: usize,
    /// learn()'s distance-evaluation budget (0: none).
    pub learn_budget: usize,
    /// Run the FAISS comparison at the largest size.
    pub faiss: bool,
    /// Python with faiss-cpu and numpy.
    pub python: PathBuf,
    /// Script `substrate_faiss.py`.
    pub script: PathBuf,
    /// Where exported vectors go.
    pub out_dir: PathBuf,
    /// Threads FAISS may use to build (queries are single-threaded on both sides).
    pub faiss_build_threads: usize,
    /// Length of the long-stream run (0: skip): default config, capacity `stream_capacity`.
    pub stream: usize,
    /// Capacity of the long-stream substrate.
    pub stream_capacity: usize,
    /// Seed of the data.
    pub seed: u64,
}

/// The long-stream run: bounded growth under a stream of mostly novel experiences.
#[derive(Clone, Debug, Default)]
pub struct StreamRow {
    /// Experiences learned.
    pub experiences: usize,
    /// Capacity.
    pub capacity: usize,
    /// Live attractors at the end.
    pub live: usize,
    /// Slots ever used.
    pub slots: usize,
    /// Bytes after 10% of the stream.
    pub bytes_early: usize,
    /// Bytes at the end.
    pub bytes_end: usize,
    /// Regulation counters.
    pub counters: crate::substrate::Counters,
    /// learn() over the whole stream.
    pub learn: Lat,
    /// maintain(1) after each learn() (deferred graph linking).
    pub maintain: Lat,
    /// Wall time, s.
    pub wall_s: f64,
}

/// Latency percentiles, µs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lat {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

fn lat(mut v: Vec<f64>) -> Lat {
    if v.is_empty() {
        return Lat::default();
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    Lat {
        p50: q(0.5),
        p99: q(0.99),
        max: v[v.len() - 1],
    }
}

/// Figures at one size.
#[derive(Clone, Debug)]
pub struct SizeRow {
    /// Attractors when measured.
    pub attractors: usize,
    /// learn() of new experiences (creates an attractor).
    pub learn_create: Lat,
    /// learn() of near-duplicates (strengthens).
    pub learn_strengthen: Lat,
    /// Fraction of the near-duplicate learns that found (and strengthened) the attractor the
    /// experience was drawn next to (cos ~0.999): the learning search's hit rate.
    pub strengthen_found: f64,
    /// Distances evaluated by learn()'s graph search (create and strengthen rows together).
    pub learn_visits: Lat,
    /// The same after the following maintain(1), which merges a missed duplicate into the
    /// attractor its construction search finds.
    pub strengthen_reconciled: f64,
    /// activate().
    pub activate: Lat,
    /// maintain(1) after each timed learn() (links one new or moved attractor into the graph).
    pub maintain: Lat,
    /// Bytes per attractor (whole substrate).
    pub bytes_per_attractor: f64,
    /// Seconds to grow to this size (cumulative).
    pub build_s: f64,
}

/// One index operating point.
#[derive(Clone, Debug)]
pub struct IndexRow {
    /// Which index.
    pub who: String,
    /// ef_search.
    pub ef: usize,
    /// recall@10 against exact.
    pub recall: f64,
    /// Fraction of queries whose first result is the exact nearest.
    pub recall1: f64,
    /// Query latency, µs.
    pub lat: Lat,
}

/// Snapshot figures at the largest size.
#[derive(Clone, Debug, Default)]
pub struct SnapRow {
    /// snapshot_view() hand-off, µs.
    pub view_us: f64,
    /// Background write, s.
    pub write_s: f64,
    /// File size, bytes.
    pub bytes: u64,
    /// learn() while the writer runs.
    pub learn_during: Lat,
    /// learns measured during the write.
    pub learns_during: usize,
}

/// The report.
#[derive(Clone, Debug, Default)]
pub struct BenchReport {
    /// Dimension.
    pub dim: usize,
    /// SIMD kernel.
    pub kernel: String,
    /// Per-size rows.
    pub sizes: Vec<SizeRow>,
    /// Vectors in the index comparison.
    pub compare_n: usize,
    /// Our build time (learn of every vector, incl. substrate bookkeeping), s.
    pub ours_build_s: f64,
    /// FAISS build time, s.
    pub faiss_build_s: Option<f64>,
    /// Index rows.
    pub index: Vec<IndexRow>,
    /// Snapshot row.
    pub snap: Option<SnapRow>,
    /// Long-stream row.
    pub stream: Option<StreamRow>,
    /// Notes (FAISS skipped, etc.).
    pub notes: Vec<String>,
}

struct Data {
    dim: usize,
    centers: Vec<f32>,
    rng: ChaCha8Rng,
    noise: f32,
}

impl Data {
    fn new(dim: usize, clusters: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut centers = vec![0f32; clusters * dim];
        for c in centers.chunks_mut(dim) {
            for x in c.iter_mut() {
                *x = StandardNormal.sample(&mut rng);
            }
            simd::normalize(c);
        }
        Self {
            dim,
            centers,
            rng,
            noise: 0.9 / (dim as f32).sqrt(),
        }
    }

    /// A clustered point: a random center plus Gaussian noise of norm ~0.9 (cos to center ~0.74).
    fn point(&mut self, out: &mut [f32]) {
        let nc = self.centers.len() / self.dim;
        let c = self.rng.gen_range(0..nc);
        let center = &self.centers[c * self.dim..(c + 1) * self.dim];
        for (o, &m) in out.iter_mut().zip(center) {
            let n: f32 = StandardNormal.sample(&mut self.rng);
            *o = m + self.noise * n;
        }
        simd::normalize(out);
    }
}

fn us(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// Runs the benchmark.
pub fn bench_substrate(o: &BenchOptions) -> Result<BenchReport, BenchError> {
    if o.sizes.is_empty() || o.sizes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(BenchError::Options(
            "sizes must be ascending and non-empty".into(),
        ));
    }
    let max = *o.sizes.last().unwrap_or(&0);
    let cfg = SubstrateConfig {
        dim: o.dim as u64,
        vigilance: 0.99,
        capacity: (max + 4 * o.ops + 16) as u64,
        merge_similarity: 0.9999,
        strength_half_life_s: 1e9,
        prune_floor: 0.0,
        index: IndexConfig {
            m: o.m as u64,
            ef_construction: o.ef_construction as u64,
            ef_learn: o.ef_learn as u64,
            learn_budget: o.learn_budget as u64,
            ..IndexConfig::default()
        },
        ..SubstrateConfig::default()
    };
    let mut s = Substrate::new(cfg)?;
    let mut data = Data::new(o.dim, (max / 1000).max(16), o.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed ^ 0x5eed);
    let mut x = vec![0f32; o.dim];
    let mut rep = BenchReport {
        dim: o.dim,
        kernel: simd::kernel_name().into(),
        ..Default::default()
    };
    let mut t_ns: i64 = 0;
    let mut tick = || {
        t_ns += 1_000_000;
        Time(t_ns)
    };
    let mut build = 0.0f64;
    for &n in &o.sizes {
        let t0 = Instant::now();
        while s.len() < n {
            data.point(&mut x);
            s.learn(tick(), &x)?;
            s.maintain(1);
        }
        build += t0.elapsed().as_secs_f64();
        // The learning task's cycle: learn(), then one unit of deferred linking.
        let mut maint = Vec::with_capacity(2 * o.ops);
        let mut create = Vec::with_capacity(o.ops);
        let mut visits = Vec::with_capacity(2 * o.ops);
        for _ in 0..o.ops {
            data.point(&mut x);
            let t = tick();
            let t0 = Instant::now();
            s.learn(t, &x)?;
            create.push(us(t0));
            visits.push(s.index().last_visits() as f64);
            let t0 = Instant::now();
            s.maintain(1);
            maint.push(us(t0));
        }
        let mut strengthen = Vec::with_capacity(o.ops);
        let mut found = 0usize;
        let mut reconciled = 0usize;
        for _ in 0..o.ops {
            let slot = rng.gen_range(0..s.index().slots()) as u32;
            if !s.index().is_live(slot) {
                continue;
            }
            let eps = 0.05 / (o.dim as f32).sqrt();
            for (xi, &c) in x.iter_mut().zip(s.index().vector(slot)) {
                let n: f32 = StandardNormal.sample(&mut rng);
                *xi = c + eps * n;
            }
            let t = tick();
            let t0 = Instant::now();
            let r = s.learn(t, &x)?;
            strengthen.push(us(t0));
            visits.push(s.index().last_visits() as f64);
            let hit = !r.created && (r.id.0 == slot || r.merged.is_some());
            found += usize::from(hit);
            let t0 = Instant::now();
            s.maintain(1);
            maint.push(us(t0));
            // A missed near-duplicate was created; linking it merges it into `slot`.
            let folded = r.created && s.attractor(r.id, t).is_none() && s.index().is_live(slot);
            reconciled += usize::from(hit || folded);
        }
        let mut act = Vec::with_capacity(o.ops);
        for _ in 0..o.ops {
            data.point(&mut x);
            let t = tick();
            let t0 = Instant::now();
            let r = s.activate(t, &x)?;
            std::hint::black_box(r.len());
            act.push(us(t0));
        }
        rep.sizes.push(SizeRow {
            attractors: s.len(),
            learn_create: lat(create),
            strengthen_found: found as f64 / strengthen.len().max(1) as f64,
            learn_visits: lat(visits),
            strengthen_reconciled: reconciled as f64 / strengthen.len().max(1) as f64,
            learn_strengthen: lat(strengthen),
            activate: lat(act),
            maintain: lat(maint),
            bytes_per_attractor: s.memory_bytes() as f64 / s.len() as f64,
            build_s: build,
        });
        tracing::info!(n = s.len(), build_s = build, "substrate size measured");
    }
    rep.ours_build_s = build;
    s.maintain(usize::MAX); // compare graphs: every vector linked
    rep.compare_n = s.len();

    // Index against exact and FAISS.
    let mut queries = vec![0f32; o.queries * o.dim];
    for q in queries.chunks_mut(o.dim) {
        data.point(q);
    }
    let ids: Vec<u32> = (0..s.index().slots() as u32)
        .filter(|&i| s.index().is_live(i))
        .collect();
    let t0 = Instant::now();
    let gt = ground_truth(&s, &ids, &queries, o.dim, 10);
    tracing::info!(s = t0.elapsed().as_secs_f64(), "exact ground truth");
    let mut hits = Vec::new();
    for &ef in &o.ef {
        s.index_mut().set_ef_search(ef);
        let mut l = Vec::with_capacity(o.queries);
        let mut found = 0usize;
        let mut first = 0usize;
        for (qi, q) in queries.chunks(o.dim).enumerate() {
            let t0 = Instant::now();
            s.index_mut().search(q, 10, &mut hits);
            l.push(us(t0));
            let g = &gt[qi * 10..qi * 10 + 10];
            found += hits.iter().filter(|h| g.contains(&h.0)).count();
            first += usize::from(hits.first().is_some_and(|h| h.0 == g[0]));
        }
        rep.index.push(IndexRow {
            who: "sattva".into(),
            ef,
            recall: found as f64 / (10 * o.queries) as f64,
            recall1: first as f64 / o.queries as f64,
            lat: lat(l),
        });
    }
    s.index_mut()
        .set_ef_search(IndexConfig::default().ef_search as usize);

    if o.faiss {
        match faiss(o, &s, &ids, &queries, &gt) {
            Ok((b, rows)) => {
                rep.faiss_build_s = Some(b);
                rep.index.extend(rows);
            }
            Err(e) => rep.notes.push(format!("FAISS reference not run: {e}")),
        }
    }

    // Snapshot hand-off while learning continues.
    let path = o.out_dir.join("bench_substrate.snap");
    std::fs::create_dir_all(&o.out_dir).map_err(|source| BenchError::Io {
        path: o.out_dir.clone(),
        source,
    })?;
    let writer = SnapshotWriter::spawn(path.clone(), [0; 32]).map_err(|source| BenchError::Io {
        path: path.clone(),
        source,
    })?;
    let t0 = Instant::now();
    let view = s.snapshot_view();
    let view_us = us(t0);
    let tw = Instant::now();
    if !writer.submit(view) {
        // The thread may not be waiting yet: retry briefly.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let view = s.snapshot_view();
        if !writer.submit(view) {
            rep.notes.push("snapshot writer refused the view".into());
        }
    }
    let mut during = Vec::new();
    let mut done = Vec::new();
    while done.is_empty() && during.len() < 2_000_000 {
        data.point(&mut x);
        let t = tick();
        let t0 = Instant::now();
        s.learn(t, &x)?;
        during.push(us(t0));
        s.maintain(1);
        done = writer.poll();
    }
    let write_s = tw.elapsed().as_secs_f64();
    done.extend(writer.finish());
    let bytes = done
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|i| i.bytes)
        .next()
        .unwrap_or(0);
    for e in done.iter().filter_map(|r| r.as_ref().err()) {
        rep.notes.push(format!("snapshot failed: {e}"));
    }
    let _ = std::fs::remove_file(&path);
    rep.snap = Some(SnapRow {
        view_us,
        write_s,
        bytes,
        learns_during: during.len(),
        learn_during: lat(during),
    });
    drop(s);
    if o.stream > 0 {
        rep.stream = Some(long_stream(o)?);
    }
    Ok(rep)
}

/// `o.stream` experiences from 10x `stream_capacity` clusters into a default-config substrate
/// (vigilance 0.7) with capacity `stream_capacity`, at 500 Hz simulated time.
fn long_stream(o: &BenchOptions) -> Result<StreamRow, BenchError> {
    let cfg = SubstrateConfig {
        dim: o.dim as u64,
        capacity: o.stream_capacity as u64,
        strength_half_life_s: 10.0,
        ..SubstrateConfig::default()
    };
    let mut s = Substrate::new(cfg)?;
    let mut data = Data::new(o.dim, 10 * o.stream_capacity.max(1), o.seed ^ 0x57);
    let mut x = vec![0f32; o.dim];
    let mut l = Vec::with_capacity(o.stream);
    let mut lm = Vec::with_capacity(o.stream);
    let mut early = 0;
    let t0 = Instant::now();
    for i in 0..o.stream {
        data.point(&mut x);
        let t = Time(i as i64 * 2_000_000);
        let t1 = Instant::now();
        s.learn(t, &x)?;
        l.push(us(t1));
        let t1 = Instant::now();
        s.maintain(1);
        lm.push(us(t1));
        if i == o.stream / 10 {
            early = s.memory_bytes();
        }
    }
    Ok(StreamRow {
        experiences: o.stream,
        capacity: o.stream_capacity,
        live: s.len(),
        slots: s.index().slots(),
        bytes_early: early,
        bytes_end: s.memory_bytes(),
        counters: s.counters(),
        learn: lat(l),
        maintain: lat(lm),
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Exact top-`k` slots per query (blocked over queries, two threads).
fn ground_truth(s: &Substrate, ids: &[u32], queries: &[f32], dim: usize, k: usize) -> Vec<u32> {
    let nq = queries.len() / dim;
    let mut out = vec![0u32; nq * k];
    let idx = s.index();
    let half = nq.div_ceil(2);
    std::thread::scope(|sc| {
        for (qs, os) in queries.chunks(half * dim).zip(out.chunks_mut(half * k)) {
            sc.spawn(move || {
                for (qb, ob) in qs.chunks(8 * dim).zip(os.chunks_mut(8 * k)) {
                    let nb = qb.len() / dim;
                    let mut best: Vec<Vec<(f32, u32)>> = vec![Vec::with_capacity(k + 1); nb];
                    for &id in ids {
                        let v = idx.vector(id);
                        for (j, b) in best.iter_mut().enumerate() {
                            let sc = dot(&qb[j * dim..(j + 1) * dim], v);
                            if b.len() < k || sc > b[b.len() - 1].0 {
                                let pos = b.partition_point(|e| e.0 >= sc);
                                b.insert(pos, (sc, id));
                                b.truncate(k);
                            }
                        }
                    }
                    for (j, b) in best.iter().enumerate() {
                        for (i, e) in b.iter().enumerate() {
                            ob[j * k + i] = e.1;
                        }
                    }
                }
            });
        }
    });
    out
}

fn write_f32(path: &Path, rows: impl Iterator<Item = f32>) -> Result<(), BenchError> {
    use std::io::Write;
    let io = |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
    for x in rows {
        w.write_all(&x.to_le_bytes()).map_err(io)?;
    }
    w.flush().map_err(io)
}

fn faiss(
    o: &BenchOptions,
    s: &Substrate,
    ids: &[u32],
    queries: &[f32],
    gt: &[u32],
) -> Result<(f64, Vec<IndexRow>), BenchError> {
    let dir = &o.out_dir;
    std::fs::create_dir_all(dir).map_err(|source| BenchError::Io {
        path: dir.clone(),
        source,
    })?;
    let idx = s.index();
    write_f32(
        &dir.join("base.f32"),
        ids.iter().flat_map(|&i| idx.vector(i).iter().copied()),
    )?;
    write_f32(&dir.join("queries.f32"), queries.iter().copied())?;
    write_f32(&dir.join("ids.f32"), ids.iter().map(|&i| i as f32))?;
    write_f32(&dir.join("gt.f32"), gt.iter().map(|&i| i as f32))?;
    let ef: Vec<String> = o.ef.iter().map(|e| e.to_string()).collect();
    let out = std::process::Command::new(&o.python)
        .arg(&o.script)
        .arg("--dir")
        .arg(dir)
        .args(["--dim", &o.dim.to_string()])
        .args(["--m", &o.m.to_string()])
        .args(["--efc", &o.ef_construction.to_string()])
        .args(["--ef", &ef.join(",")])
        .args(["--build-threads", &o.faiss_build_threads.to_string()])
        .output()
        .map_err(|e| BenchError::Faiss(format!("{}: {e}", o.python.display())))?;
    if !out.status.success() {
        return Err(BenchError::Faiss(format!(
            "{} exited with {}: {}",
            o.script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut build = 0.0;
    let mut rows = Vec::new();
    // Lines: `build <s>` and `ef <ef> recall <r> p50 <us> p99 <us> max <us> r1 <r>`.
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| {
            f.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        match f.first() {
            Some(&"build") => build = num(1),
            Some(&"ef") => rows.push(IndexRow {
                who: "faiss".into(),
                ef: num(1) as usize,
                recall: num(3),
                recall1: num(11),
                lat: Lat {
                    p50: num(5),
                    p99: num(7),
                    max: num(9),
                },
            }),
            _ => {}
        }
    }
    for f in ["base.f32", "queries.f32", "ids.f32", "gt.f32"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    Ok((build, rows))
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "substrate bench: D = {}, clustered data, dot kernel {}",
            self.dim, self.kernel
        )?;
        writeln!(
            f,
            "{:>10} | {:>19} | {:>31} | {:>19} | {:>19} | {:>12} | {:>8}",
            "attractors",
            "learn(create) us",
            "learn(strength.) us, hit/after",
            "activate us",
            "maintain(1) us",
            "bytes/attr",
            "build s"
        )?;
        writeln!(
            f,
            "{:>10} | {:>19} | {:>31} | {:>19} | {:>19} | {:>12} | {:>8}",
            "", "p50 / p99", "p50 / p99", "p50 / p99", "p50 / p99", "(raw)", ""
        )?;
        for r in &self.sizes {
            let p = |l: &Lat| format!("{:.1} / {:.1}", l.p50, l.p99);
            let ps = format!(
                "{:.1} / {:.1} {:>4.1}/{:>5.1}%",
                r.learn_strengthen.p50,
                r.learn_strengthen.p99,
                100.0 * r.strengthen_found,
                100.0 * r.strengthen_reconciled
            );
            writeln!(
                f,
                "{:>10} | {:>19} | {:>31} | {:>19} | {:>19} | {:>5.0} ({:.2}x) | {:>8.1}",
                r.attractors,
                p(&r.learn_create),
                ps,
                p(&r.activate),
                p(&r.maintain),
                r.bytes_per_attractor,
                r.bytes_per_attractor / (self.dim * 4) as f64,
                r.build_s
            )?;
        }
        writeln!(
            f,
            "\nindex vs FAISS IndexHNSWFlat, {} vectors, k = 10, single-threaded queries",
            self.compare_n
        )?;
        writeln!(
            f,
            "build: sattva {:.1} s (1 thread, incremental learn) | faiss {}",
            self.ours_build_s,
            self.faiss_build_s
                .map_or("not run".into(), |b| format!("{b:.1} s"))
        )?;
        writeln!(
            f,
            "{:>7} | {:>5} | {:>9} | {:>9} | {:>9} | {:>9} | {:>9}",
            "index", "ef", "recall@10", "recall@1", "p50 us", "p99 us", "max us"
        )?;
        let mut rows = self.index.clone();
        rows.sort_by(|a, b| a.ef.cmp(&b.ef).then(b.who.cmp(&a.who)));
        for r in &rows {
            writeln!(
                f,
                "{:>7} | {:>5} | {:>9.4} | {:>9.4} | {:>9.1} | {:>9.1} | {:>9.1}",
                r.who, r.ef, r.recall, r.recall1, r.lat.p50, r.lat.p99, r.lat.max
            )?;
        }
        if let Some(sn) = &self.snap {
            writeln!(
                f,
                "\nsnapshot: view hand-off {:.0} us, background write {:.2} s ({:.1} MB); \
                 learn during write: p50 {:.1} us, p99 {:.1} us, max {:.0} us ({} learns)",
                sn.view_us,
                sn.write_s,
                sn.bytes as f64 / 1e6,
                sn.learn_during.p50,
                sn.learn_during.p99,
                sn.learn_during.max,
                sn.learns_during
            )?;
        }
        if let Some(st) = &self.stream {
            writeln!(
                f,
                "\nlong stream: {} experiences, capacity {}: {} live, {} slots, {:.1} MB after 10% -> \
                 {:.1} MB at the end; created {}, strengthened {}, merged {}, pruned {}, evicted {}; \
                 learn p50 {:.1} us, p99 {:.1} us, max {:.0} us; maintain(1) p50 {:.1} us, \
                 p99 {:.1} us; {:.0} s",
                st.experiences,
                st.capacity,
                st.live,
                st.slots,
                st.bytes_early as f64 / 1e6,
                st.bytes_end as f64 / 1e6,
                st.counters.created,
                st.counters.strengthened,
                st.counters.merged,
                st.counters.pruned,
                st.counters.evicted,
                st.learn.p50,
                st.learn.p99,
                st.learn.max,
                st.maintain.p50,
                st.maintain.p99,
                st.wall_s
            )?;
        }
        if !self.sizes.is_empty() {
            let v: Vec<String> = self
                .sizes
                .iter()
                .map(|r| {
                    format!(
                        "{}: {:.0} / {:.0} / {:.0}",
                        r.attractors, r.learn_visits.p50, r.learn_visits.p99, r.learn_visits.max
                    )
                })
                .collect();
            writeln!(
                f,
                "\nlearn() graph distance evaluations p50 / p99 / max at {}",
                v.join(", ")
            )?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}
