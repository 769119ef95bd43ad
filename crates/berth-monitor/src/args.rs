//! Hand-rolled command-line parsing for `berth-mon`.
//!
//! No clap: the monitor runs once per container and every dependency costs
//! resident pages in every one of them. The grammar is fixed by
//! `berth_types::monitor` (long flags, value in the next argv element; the
//! `--flag=value` spelling is accepted too).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::RawFd;
use std::path::PathBuf;

/// Parsed monitor arguments. Paths are made absolute by [`Args::absolutize`]
/// because the monitor `chdir`s to `/` when it detaches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Args {
    /// Container ID passed to the runtime.
    pub cid: OsString,
    /// OCI bundle directory.
    pub bundle: PathBuf,
    /// Runtime binary (path, or a name looked up in `PATH`).
    pub runtime: OsString,
    /// The runtime's `--root` state directory.
    pub runtime_root: PathBuf,
    /// Where the runtime writes the container init's host PID.
    pub pid_file: PathBuf,
    /// Where the monitor writes the exit code.
    pub exit_file: PathBuf,
    /// k8s-file log of the container's output.
    pub log_path: PathBuf,
    /// Unix socket path for attach clients.
    pub attach_socket: PathBuf,
    /// Inherited fd the single [`SyncMessage`](berth_types::monitor::SyncMessage) goes to.
    pub sync_fd: RawFd,
    /// Inherited fd the engine's go-ahead byte arrives on (`--ack-fd`): after
    /// reporting, wait for it; EOF instead means the engine died before
    /// recording the container, which is then removed (see `crate::ack`).
    pub ack_fd: Option<RawFd>,
    /// The container's lock file (`--lock-file`), held while removing an
    /// abandoned container so a relaunch by another engine is never hit.
    pub lock_file: PathBuf,
    /// Give the container a stdin pipe fed by attach clients.
    pub stdin: bool,
    /// Run mode: `RUNTIME run` in the foreground instead of `RUNTIME create`.
    pub run: bool,
    /// Start the runtime only once the first attach client connected (or
    /// [`crate::supervise::ATTACH_WAIT`] passed).
    pub attach_wait: bool,
    /// Exec mode (`--exec`): `RUNTIME exec --process FILE` in the
    /// foreground, run mode's machinery otherwise (see `berth_types::exec`).
    pub exec: bool,
    /// The OCI `process.json` of exec mode (`--process FILE`).
    pub process: PathBuf,
    /// The process has a terminal (`--terminal`): receive its pty master
    /// over a console socket and relay that.
    pub terminal: bool,
    /// Log format (`--log-driver`).
    pub log_driver: LogDriver,
    /// Rotate the log once it reached this many bytes (0: never).
    pub log_max_size: u64,
    /// Log files kept, the live one included (at least 1).
    pub log_max_file: u32,
    /// Extra global runtime arguments, placed before `--root`.
    pub runtime_args: Vec<OsString>,
    /// Command (argv words) run after the container exited.
    pub exit_cmd: Vec<OsString>,
    /// Restore mode (`--restore`): `RUNTIME restore --detach` instead of
    /// `RUNTIME create` (see `berth_types::checkpoint`).
    pub restore: bool,
    /// Extra `RUNTIME restore` arguments (`--restore-arg`).
    pub restore_args: Vec<OsString>,
}

/// Log formats (`--log-driver`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogDriver {
    /// `TIMESTAMP STREAM F|P TEXT` lines (Podman's default).
    #[default]
    K8sFile,
    /// Docker's json-file lines.
    JsonFile,
    /// No log at all.
    None,
}

/// Usage text printed for `--help` and after argument errors.
pub const USAGE: &str = "usage: berth-mon --cid ID --bundle DIR --runtime PATH --runtime-root DIR \
--pid-file FILE --exit-file FILE --log-path FILE --attach-socket FILE --sync-fd N \
[--stdin] [--run] [--attach-wait] [--terminal] [--exec --process FILE] \
[--log-driver k8s-file|json-file|none] [--log-max-size BYTES] [--log-max-file N] \
[--runtime-arg ARG]... [--exit-cmd ARG]... [--restore [--restore-arg ARG]...] \
[--ack-fd N [--lock-file FILE]]\n";

/// What the command line asked for.
#[derive(Debug)]
pub enum Parsed {
    /// Monitor a container.
    Run(Box<Args>),
    /// `--help`: print [`USAGE`] and exit 0.
    Help,
}

/// An argument error, with the sync fd if it could be parsed so that the
/// caller can still report the failure to the engine.
#[derive(Debug)]
pub struct ArgError {
    /// Human-readable reason.
    pub message: String,
    /// `--sync-fd` value, if one was given and parsed.
    pub sync_fd: Option<RawFd>,
}

/// Parse `argv` (without the program name).
pub fn parse<I>(argv: I) -> Result<Parsed, ArgError>
where
    I: IntoIterator<Item = OsString>,
{
    let argv: Vec<OsString> = argv.into_iter().collect();
    // Find the sync fd first so that every later error can be reported on it.
    let sync_fd = scan_sync_fd(&argv);
    let err = |message: String| ArgError { message, sync_fd };

    let mut a = Args {
        sync_fd: -1,
        log_max_file: 1,
        ..Args::default()
    };
    let mut seen_sync = false;
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        let bytes = arg.as_bytes();
        if !bytes.starts_with(b"--") {
            return Err(err(format!("unexpected argument {:?}", arg)));
        }
        let (name, inline) = match bytes.iter().position(|&b| b == b'=') {
            Some(i) => (
                &bytes[2..i],
                Some(OsStr::from_bytes(&bytes[i + 1..]).to_owned()),
            ),
            None => (&bytes[2..], None),
        };
        match name {
            b"help" => return Ok(Parsed::Help),
            b"stdin" | b"run" | b"attach-wait" | b"exec" | b"terminal" | b"restore" => {
                if inline.is_some() {
                    let flag = String::from_utf8_lossy(name);
                    return Err(err(format!("--{flag} takes no value")));
                }
                match name {
                    b"stdin" => a.stdin = true,
                    b"run" => a.run = true,
                    b"exec" => a.exec = true,
                    b"terminal" => a.terminal = true,
                    b"restore" => a.restore = true,
                    _ => a.attach_wait = true,
                }
                continue;
            }
            _ => {}
        }
        let flag = String::from_utf8_lossy(name).into_owned();
        let value = match inline.or_else(|| it.next()) {
            Some(v) => v,
            None => return Err(err(format!("--{flag} needs a value"))),
        };
        match name {
            b"cid" => a.cid = value,
            b"bundle" => a.bundle = value.into(),
            b"process" => a.process = value.into(),
            b"runtime" => a.runtime = value,
            b"runtime-root" => a.runtime_root = value.into(),
            b"pid-file" => a.pid_file = value.into(),
            b"exit-file" => a.exit_file = value.into(),
            b"log-path" => a.log_path = value.into(),
            b"attach-socket" => a.attach_socket = value.into(),
            b"runtime-arg" => a.runtime_args.push(value),
            b"exit-cmd" => a.exit_cmd.push(value),
            b"restore-arg" => a.restore_args.push(value),
            b"lock-file" => a.lock_file = value.into(),
            b"ack-fd" => {
                a.ack_fd =
                    Some(parse_fd(&value).ok_or_else(|| err(format!("bad --ack-fd {value:?}")))?);
            }
            b"log-driver" => {
                a.log_driver = match value.as_bytes() {
                    b"k8s-file" => LogDriver::K8sFile,
                    b"json-file" => LogDriver::JsonFile,
                    b"none" => LogDriver::None,
                    _ => return Err(err(format!("unsupported --log-driver {value:?}"))),
                }
            }
            b"log-max-size" => {
                a.log_max_size = parse_num(&value)
                    .ok_or_else(|| err(format!("bad --log-max-size {value:?}")))?;
            }
            b"log-max-file" => {
                a.log_max_file = parse_num(&value)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| err(format!("bad --log-max-file {value:?}")))?;
            }
            b"sync-fd" => {
                a.sync_fd =
                    parse_fd(&value).ok_or_else(|| err(format!("bad --sync-fd {value:?}")))?;
                seen_sync = true;
            }
            _ => return Err(err(format!("unknown flag --{flag}"))),
        }
    }

    let required: [(&str, bool); 10] = [
        ("cid", a.cid.is_empty()),
        // Exec mode runs in an existing container: no bundle, a process.
        ("bundle", a.bundle.as_os_str().is_empty() && !a.exec),
        ("process", a.exec && a.process.as_os_str().is_empty()),
        ("runtime", a.runtime.is_empty()),
        ("runtime-root", a.runtime_root.as_os_str().is_empty()),
        ("pid-file", a.pid_file.as_os_str().is_empty()),
        ("exit-file", a.exit_file.as_os_str().is_empty()),
        ("log-path", a.log_path.as_os_str().is_empty()),
        ("attach-socket", a.attach_socket.as_os_str().is_empty()),
        ("sync-fd", !seen_sync),
    ];
    if let Some((name, _)) = required.iter().find(|(_, missing)| *missing) {
        return Err(err(format!("missing --{name}")));
    }
    if a.cid.as_bytes().contains(&b'/') {
        return Err(err("--cid must not contain '/'".into()));
    }
    Ok(Parsed::Run(Box::new(a)))
}

/// Return the value of the last `--sync-fd`, if it parses.
fn scan_sync_fd(argv: &[OsString]) -> Option<RawFd> {
    let mut found = None;
    for (i, arg) in argv.iter().enumerate() {
        let b = arg.as_bytes();
        if b == b"--sync-fd" {
            found = argv.get(i + 1).and_then(|v| parse_fd(v)).or(found);
        } else if let Some(v) = b.strip_prefix(b"--sync-fd=") {
            found = parse_fd(OsStr::from_bytes(v)).or(found);
        }
    }
    found
}

/// A non-negative decimal number.
fn parse_num(v: &OsStr) -> Option<u64> {
    std::str::from_utf8(v.as_bytes()).ok()?.parse().ok()
}

/// A non-negative decimal fd number.
fn parse_fd(v: &OsStr) -> Option<RawFd> {
    std::str::from_utf8(v.as_bytes())
        .ok()?
        .parse::<RawFd>()
        .ok()
        .filter(|fd| *fd >= 0)
}

impl Args {
    /// Make every path absolute against the current directory, which the
    /// monitor leaves when it detaches. The runtime name is left alone when it
    /// has no `/` (it is then looked up in `PATH`).
    pub fn absolutize(&mut self) -> std::io::Result<()> {
        if [
            &self.bundle,
            &self.process,
            &self.runtime_root,
            &self.pid_file,
            &self.exit_file,
            &self.log_path,
            &self.attach_socket,
            &self.lock_file,
        ]
        .iter()
        .all(|p| p.is_absolute() || p.as_os_str().is_empty())
            && (!self.runtime.as_bytes().contains(&b'/') || self.runtime.as_bytes()[0] == b'/')
        {
            return Ok(());
        }
        let cwd = std::env::current_dir()?;
        for p in [
            &mut self.bundle,
            &mut self.process,
            &mut self.runtime_root,
            &mut self.pid_file,
            &mut self.exit_file,
            &mut self.log_path,
            &mut self.attach_socket,
            &mut self.lock_file,
        ] {
            if p.is_relative() && !p.as_os_str().is_empty() {
                *p = cwd.join(&*p);
            }
        }
        let rt = self.runtime.as_bytes();
        if rt.contains(&b'/') && rt[0] != b'/' {
            self.runtime = cwd.join(&self.runtime).into_os_string();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    const FULL: &[&str] = &[
        "--cid",
        "c1",
        "--bundle",
        "/b",
        "--runtime",
        "runc",
        "--runtime-root",
        "/r",
        "--pid-file",
        "/p",
        "--exit-file",
        "/e",
        "--log-path",
        "/l",
        "--attach-socket",
        "/a",
        "--sync-fd",
        "3",
    ];

    #[test]
    fn full_parse() {
        let mut v = os(FULL);
        v.extend(os(&[
            "--stdin",
            "--runtime-arg",
            "--debug",
            "--exit-cmd=/bin/sh",
            "--exit-cmd",
            "-c",
        ]));
        let Parsed::Run(a) = parse(v).unwrap() else {
            panic!("help")
        };
        assert_eq!(a.cid, "c1");
        assert_eq!(a.sync_fd, 3);
        assert!(a.stdin);
        assert!(!a.run && !a.attach_wait);
        assert_eq!(a.runtime_args, os(&["--debug"]));
        assert_eq!(a.exit_cmd, os(&["/bin/sh", "-c"]));
    }

    #[test]
    fn missing_flag_keeps_sync_fd() {
        let v: Vec<_> = os(FULL).into_iter().skip(2).collect();
        let e = parse(v).unwrap_err();
        assert_eq!(e.message, "missing --cid");
        assert_eq!(e.sync_fd, Some(3));
    }

    #[test]
    fn bad_values() {
        assert!(parse(os(&["--bogus", "x"])).is_err());
        assert!(parse(os(&["--cid"])).is_err());
        assert!(parse(os(&["positional"])).is_err());
        let e = parse(os(&["--sync-fd", "-4"])).unwrap_err();
        assert_eq!(e.sync_fd, None);
        assert!(matches!(parse(os(&["--help"])), Ok(Parsed::Help)));
        assert!(parse(os(&["--run=1"])).is_err());
    }

    #[test]
    fn mode_flags() {
        let mut v = os(FULL);
        v.extend(os(&["--run", "--attach-wait"]));
        let Parsed::Run(a) = parse(v).unwrap() else {
            panic!("help")
        };
        assert!(a.run && a.attach_wait && !a.stdin);
    }

    #[test]
    fn exec_mode_needs_a_process_not_a_bundle() {
        let no_bundle: Vec<_> = os(FULL)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !(2..4).contains(i))
            .map(|(_, v)| v)
            .collect();
        let mut v = no_bundle.clone();
        v.push("--exec".into());
        assert_eq!(parse(v.clone()).unwrap_err().message, "missing --process");
        v.extend(os(&["--process", "p.json"]));
        let Parsed::Run(mut a) = parse(v).unwrap() else {
            panic!("help")
        };
        assert!(a.exec && a.bundle.as_os_str().is_empty());
        a.absolutize().unwrap();
        assert!(a.process.is_absolute());
        assert!(a.bundle.as_os_str().is_empty());
        assert_eq!(parse(no_bundle).unwrap_err().message, "missing --bundle");
    }

    #[test]
    fn terminal_and_log_flags() {
        let mut v = os(FULL);
        v.extend(os(&[
            "--terminal",
            "--log-driver",
            "json-file",
            "--log-max-size=1024",
            "--log-max-file",
            "3",
        ]));
        let Parsed::Run(a) = parse(v).unwrap() else {
            panic!("help")
        };
        assert!(a.terminal);
        assert_eq!(a.log_driver, LogDriver::JsonFile);
        assert_eq!((a.log_max_size, a.log_max_file), (1024, 3));
        let Parsed::Run(d) = parse(os(FULL)).unwrap() else {
            panic!("help")
        };
        assert_eq!(
            (d.log_driver, d.log_max_size, d.log_max_file),
            (LogDriver::K8sFile, 0, 1)
        );
        for bad in [["--log-driver", "journald"], ["--log-max-file", "0"]] {
            let mut v = os(FULL);
            v.extend(os(&bad));
            assert!(parse(v).is_err());
        }
    }

    #[test]
    fn restore_mode() {
        let mut v = os(FULL);
        v.extend(os(&[
            "--restore",
            "--restore-arg",
            "--image-path",
            "--restore-arg=/img",
        ]));
        let Parsed::Run(a) = parse(v).unwrap() else {
            panic!("help")
        };
        assert!(a.restore && !a.run);
        assert_eq!(a.restore_args, os(&["--image-path", "/img"]));
    }

    #[test]
    fn absolutize_relative() {
        let Parsed::Run(mut a) = parse(os(FULL)).unwrap() else {
            panic!()
        };
        a.log_path = "rel/log".into();
        a.runtime = "./bin/runc".into();
        a.absolutize().unwrap();
        assert!(a.log_path.is_absolute());
        assert!(a.runtime.as_bytes().starts_with(b"/"));
        assert_eq!(a.bundle, PathBuf::from("/b"));
    }
}
