//! `berth attach` and the terminal side of `run`, `start -a` and `exec`:
//! relaying a container's streams to ours with detach keys, raw-mode
//! terminals, window sizes and signal proxying.

use crate::report::{fail, Exit};
use berth_core::container::attach::{
    parse_detach_keys, RelayEnd, TerminalOptions, DEFAULT_DETACH_KEYS,
};
use berth_core::{AttachStream, Runtime};
use clap::Args;

/// `berth attach [flags] CONTAINER`.
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach stdin.
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy received signals to the container (non-tty only).
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Key sequence to detach (default ctrl-p,ctrl-q; empty disables).
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Attach to the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container.
    pub container: Option<String>,
}

/// How to relay one attached session.
pub struct Session<'a> {
    /// Forward our stdin.
    pub stdin: bool,
    /// The process has a terminal.
    pub tty: bool,
    /// `--detach-keys` as given.
    pub detach_keys: Option<&'a str>,
    /// Forward signals to this host pid (non-tty, `--sig-proxy`).
    pub proxy_to: Option<i32>,
}

/// Relay `stream` as `s` says; `Ok(true)` when the user detached.
pub fn relay(stream: AttachStream, s: &Session) -> berth_core::Result<bool> {
    let keys = parse_detach_keys(s.detach_keys.unwrap_or(DEFAULT_DETACH_KEYS))?;
    if let (Some(pid), false) = (s.proxy_to, s.tty) {
        proxy_signals(pid);
    }
    let opts = TerminalOptions {
        stdin: s.stdin,
        tty: s.tty,
        detach_keys: keys,
    };
    let end = stream.relay_terminal(&opts, &mut std::io::stdout(), &mut std::io::stderr())?;
    Ok(end == RelayEnd::Detached)
}

/// Signals `berth` passes on instead of dying from them (Podman's proxy
/// skips the ones that concern the client itself).
const PROXIED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
];

/// Block the proxied signals in this thread (and so in every thread
/// started later) and forward them to `pid` from a thread of their own.
fn proxy_signals(pid: i32) {
    // SAFETY: signal-mask calls on a local set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in PROXIED {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || loop {
        let mut sig = 0;
        // SAFETY: waits for one of the blocked signals.
        if unsafe { libc::sigwait(&set, &mut sig) } == 0 && pid > 0 {
            // The container's init; we are root, as runc kill would be.
            unsafe { libc::kill(pid, sig) };
        }
    });
}

/// `berth attach`: relay until the container exits (its exit code) or the
/// user detaches (0).
pub fn attach(rt: &Runtime, a: &AttachArgs) -> Exit {
    let run = || -> berth_core::Result<Exit> {
        let c = match (&a.container, a.latest) {
            (Some(n), false) => rt.lookup(n)?,
            (None, true) => rt.latest()?,
            _ => {
                return Err(berth_core::Error::invalid(
                    "attach requires the name or ID of one container (or --latest)",
                ))
            }
        };
        let rec = c.inspect_record()?;
        let stream = c.attach()?;
        let session = Session {
            stdin: rec.config.stdin && !a.no_stdin,
            tty: rec.config.tty,
            detach_keys: a.detach_keys.as_deref(),
            proxy_to: a.sig_proxy.then_some(rec.state.pid),
        };
        if relay(stream, &session)? {
            return Ok(0);
        }
        c.wait_for_exit()
    };
    run().unwrap_or_else(|e| fail(&e))
}
