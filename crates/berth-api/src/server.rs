//! The socket, the idle timer and the serve loop.
//!
//! Security (RELIABILITY 49–52): only a filesystem unix socket is served, in
//! a directory only its owner can enter (0700) and itself mode 0600; no
//! abstract sockets and no TCP. Stopping the service only stops answering:
//! containers belong to their monitors and keep running.

use crate::state::AppState;
use berth_core::{Error, ErrorKind, Result, Runtime};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};

/// Where the service listens unless told otherwise (Podman's rootful
/// socket lives in `/run/podman`; ours in berth's default runroot).
pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";

/// How `berth system service` runs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Filesystem path of the unix socket.
    pub socket: PathBuf,
    /// Exit after this long without any connection; `None` runs until
    /// SIGINT/SIGTERM (`--time 0`).
    pub idle_timeout: Option<Duration>,
}

/// Parse the service's address argument: `unix://PATH` or a bare absolute
/// path. TCP and abstract sockets are refused (no listener is opened that
/// is not protected by filesystem permissions).
pub fn parse_address(addr: Option<&str>) -> Result<PathBuf> {
    let Some(addr) = addr else {
        return Ok(PathBuf::from(DEFAULT_SOCKET));
    };
    let path = match addr.split_once("://") {
        Some(("unix", p)) => p,
        Some((scheme, _)) => {
            return Err(Error::invalid(format!(
                "unsupported address scheme {scheme:?}: only unix:// sockets are served \
                 (a TCP listener without TLS would give root to anyone who can connect)"
            )))
        }
        None => addr,
    };
    if path.starts_with('@') || path.contains('\0') {
        return Err(Error::invalid(format!(
            "{path:?}: abstract sockets are not supported; use a filesystem path"
        )));
    }
    if !path.starts_with('/') {
        return Err(Error::invalid(format!(
            "{path:?}: the socket path must be absolute"
        )));
    }
    Ok(PathBuf::from(path))
}

/// Make sure the socket's directory exists and is private: created 0700
/// when missing; an existing one that group or others can enter is refused
/// rather than chmod'ed (it may be shared, like /tmp).
fn prepare_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let md =
        std::fs::metadata(dir).map_err(|e| Error::io(format!("checking {}", dir.display()), e))?;
    let me = unsafe { libc::geteuid() };
    if md.uid() != me || md.mode() & 0o077 != 0 {
        return Err(Error::invalid(format!(
            "socket directory {} must be owned by uid {me} with mode 0700 (it is uid {} mode {:o})",
            dir.display(),
            md.uid(),
            md.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Remove a socket file left by a service that died; refuse to take over
/// a live one or to delete anything that is not a socket.
fn clear_stale(path: &Path) -> Result<()> {
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !md.file_type().is_socket() {
        return Err(Error::invalid(format!(
            "{} exists and is not a socket",
            path.display()
        )));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(Error::new(
            ErrorKind::InUse,
            format!("another service is listening on {}", path.display()),
        ));
    }
    std::fs::remove_file(path).map_err(|e| Error::io(format!("removing {}", path.display()), e))
}

/// Bind the socket with mode 0600 in a private directory.
fn bind(path: &Path) -> Result<UnixListener> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::invalid("the socket path has no directory"))?;
    prepare_dir(dir)?;
    clear_stale(path)?;
    let listener = UnixListener::bind(path)
        .map_err(|e| Error::io(format!("listening on {}", path.display()), e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(format!("chmod {}", path.display()), e))?;
    Ok(listener)
}

/// Open connections and when the count last changed: the idle timer.
#[derive(Default)]
struct Activity {
    open: AtomicUsize,
    last: Mutex<Option<Instant>>,
}

impl Activity {
    fn touch(&self) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.open.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.map(|t| t.elapsed())
    }
}

/// A connection counted as open while it lives.
struct Tracked {
    io: UnixStream,
    activity: Arc<Activity>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.activity.open.fetch_sub(1, Ordering::SeqCst);
        self.activity.touch();
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The unix listener, counting connections for the idle timer.
struct TrackedListener {
    inner: UnixListener,
    activity: Arc<Activity>,
}

impl axum::serve::Listener for TrackedListener {
    type Io = Tracked;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Tracked, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((io, addr)) => {
                    self.activity.open.fetch_add(1, Ordering::SeqCst);
                    self.activity.touch();
                    let t = Tracked {
                        io,
                        activity: self.activity.clone(),
                    };
                    return (t, addr);
                }
                // EMFILE and friends: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Resolve when the service should stop: a signal, or the idle timeout.
async fn stop_signal(activity: Arc<Activity>, idle: Option<Duration>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let idle_wait = async {
        let Some(limit) = idle else {
            return std::future::pending::<()>().await;
        };
        let tick = limit.min(Duration::from_millis(250));
        loop {
            tokio::time::sleep(tick).await;
            if activity.idle_for().is_some_and(|d| d >= limit) {
                return;
            }
        }
    };
    tokio::select! {
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
        _ = idle_wait => {}
    }
}

/// Serve the API on `opts.socket` until stopped. Streaming requests still
/// open when the service stops are cut off (their containers are not
/// affected).
pub async fn serve(rt: Runtime, opts: ServiceOptions) -> Result<()> {
    let listener = bind(&opts.socket)?;
    let activity = Arc::new(Activity::default());
    activity.touch();
    let state = AppState::new(rt);
    use tower::Layer;
    let app =
        axum::middleware::from_fn(crate::version::rewrite).layer(crate::routes::router(state));
    let server = axum::serve(
        TrackedListener {
            inner: listener,
            activity: activity.clone(),
        },
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    );
    // Not `with_graceful_shutdown`: it would wait for `logs -f` and
    // `events` streams that may never end.
    let outcome = tokio::select! {
        r = server => r.map_err(|e| Error::io("serving the API", e)),
        _ = stop_signal(activity, opts.idle_timeout) => Ok(()),
    };
    let _ = std::fs::remove_file(&opts.socket);
    outcome
}

/// Run [`serve`] on a new multi-threaded tokio runtime, returning when the
/// service stops. Blocking engine calls still in flight (a `wait` on a
/// container that runs for days) are abandoned, not waited for.
pub fn run(rt: Runtime, opts: ServiceOptions) -> Result<()> {
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        // Two cores: two async workers; engine calls use the blocking pool.
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    let r = tokio_rt.block_on(serve(rt, opts));
    tokio_rt.shutdown_timeout(Duration::from_millis(100));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(parse_address(None).unwrap(), Path::new(DEFAULT_SOCKET));
        assert_eq!(
            parse_address(Some("unix:///tmp/x/b.sock")).unwrap(),
            Path::new("/tmp/x/b.sock")
        );
        assert!(parse_address(Some("tcp://127.0.0.1:2375")).is_err());
        assert!(parse_address(Some("unix://@abstract")).is_err());
        assert!(parse_address(Some("unix://relative.sock")).is_err());
    }

    #[test]
    fn refuses_shared_directory_and_non_socket() {
        let d = tempfile::tempdir().unwrap();
        let shared = d.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(prepare_dir(&shared).is_err());
        let private = d.path().join("private/deeper");
        prepare_dir(&private).unwrap();
        let mode = std::fs::metadata(&private).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = private.join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(clear_stale(&file).is_err());
        assert!(file.exists());
    }
}
