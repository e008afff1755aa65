//! The two read-only outlets of the snapshot, each on its own non-RT thread:
//!
//! * HTTP (`metrics.listen`): `GET /metrics` OpenMetrics text, `GET /snapshot.json` the
//!   snapshot as JSON. Served by `tiny_http` (a small, dependency-light HTTP/1.1 server that
//!   parses requests robustly: malformed requests, keep-alive, HEAD), polled with a timeout so
//!   the thread notices the stop flag.
//! * Unix socket (`metrics.socket`): every client gets the snapshot as one JSON line at once
//!   and a new line whenever it changes. Clients never send anything; the agent never reads.

use std::io::Write as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::{ObserveError, Published, Shared};

/// Most Unix-socket clients at once (each has a thread).
const MAX_CLIENTS: usize = 16;

fn current(shared: &Shared) -> Arc<Published> {
    match shared.current.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn header(k: &str, v: &str) -> tiny_http::Header {
    // ASCII constants: the conversion cannot fail
    tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("ASCII header")
}

/// Starts the HTTP endpoint on `addr`.
pub(super) fn http(addr: &str, shared: Arc<Shared>) -> Result<JoinHandle<()>, ObserveError> {
    let server = tiny_http::Server::http(addr).map_err(|e| ObserveError::Listen {
        addr: addr.into(),
        message: e.to_string(),
    })?;
    tracing::info!(%addr, "metrics endpoint: http://{addr}/metrics");
    std::thread::Builder::new()
        .name("sattva-metrics".into())
        .spawn(move || {
            while !shared.stop.load(Ordering::Relaxed) {
                let req = match server.recv_timeout(Duration::from_millis(50)) {
                    Ok(Some(r)) => r,
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics endpoint");
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                let p = current(&shared);
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let get = matches!(
                    req.method(),
                    tiny_http::Method::Get | tiny_http::Method::Head
                );
                let resp = match (get, path.as_str()) {
                    (true, "/metrics") => {
                        if p.snapshot.finished {
                            shared.final_scrapes.fetch_add(1, Ordering::Relaxed);
                        }
                        tiny_http::Response::from_string(p.openmetrics.clone()).with_header(header(
                            "Content-Type",
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        ))
                    }
                    (true, "/snapshot.json") => tiny_http::Response::from_string(p.json.clone())
                        .with_header(header("Content-Type", "application/json")),
                    (true, "/") => tiny_http::Response::from_string(
                        "sattva metrics: /metrics (OpenMetrics), /snapshot.json\n",
                    ),
                    (false, _) => tiny_http::Response::from_string("method not allowed\n")
                        .with_status_code(405),
                    (true, _) => {
                        tiny_http::Response::from_string("not found\n").with_status_code(404)
                    }
                };
                if let Err(e) = req.respond(resp) {
                    tracing::debug!(error = %e, "metrics response");
                }
            }
        })
        .map_err(|e| ObserveError::Spawn("metrics", e))
}

/// Binds the Unix socket at `path` (replacing a stale socket file; refusing one another agent
/// still serves) and starts accepting clients.
pub(super) fn unix(path: &Path, shared: Arc<Shared>) -> Result<JoinHandle<()>, ObserveError> {
    let err = |message: String| ObserveError::Socket {
        path: path.to_path_buf(),
        message,
    };
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(err(
                "another process serves this socket (another agent running?)".into(),
            ));
        }
        std::fs::remove_file(path).map_err(|e| err(format!("cannot remove stale socket: {e}")))?;
    }
    let l = UnixListener::bind(path).map_err(|e| err(format!("cannot bind: {e}")))?;
    l.set_nonblocking(true)
        .map_err(|e| err(format!("cannot set non-blocking: {e}")))?;
    tracing::info!(socket = %path.display(), "stats socket (sattva top --socket ...)");
    let path: PathBuf = path.to_path_buf();
    std::thread::Builder::new()
        .name("sattva-stats-sock".into())
        .spawn(move || {
            let clients = Arc::new(AtomicUsize::new(0));
            while !shared.stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        if clients.load(Ordering::Relaxed) >= MAX_CLIENTS {
                            tracing::warn!(socket = %path.display(), "too many stats clients: refused one");
                            continue;
                        }
                        clients.fetch_add(1, Ordering::Relaxed);
                        let (sh, cl) = (shared.clone(), clients.clone());
                        let spawned = std::thread::Builder::new()
                            .name("sattva-stats-client".into())
                            .spawn(move || {
                                client(s, &sh);
                                cl.fetch_sub(1, Ordering::Relaxed);
                            });
                        if let Err(e) = spawned {
                            tracing::warn!(error = %e, "stats client thread");
                            clients.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "stats socket accept");
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        })
        .map_err(|e| ObserveError::Spawn("stats socket", e))
}

/// Writes the snapshot whenever it changes until the client leaves or the agent stops.
fn client(mut s: UnixStream, shared: &Shared) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let mut last = u64::MAX;
    loop {
        let p = current(shared);
        if p.snapshot.seq != last {
            last = p.snapshot.seq;
            if s.write_all(p.json.as_bytes()).is_err() || s.write_all(b"\n").is_err() {
                return;
            }
        }
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
