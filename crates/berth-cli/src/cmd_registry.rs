//! Registry verbs: pull, push, login, logout, and the pull step of
//! `create`/`run`. Progress: bars on a terminal, Podman's plain
//! "Copying blob ..." lines otherwise, nothing with `-q`; all on stderr,
//! so stdout carries only the result (the image ID for pull).

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use berth_core::{
    Credentials, Error, ManifestFormat, Progress, PullPolicy, RegistryOptions, Runtime,
};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::{fail, Exit};

/// `--tls-verify`, `--authfile`, `--creds`, shared by the verbs that
/// talk to registries.
#[derive(Args, Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Require HTTPS and verify certificates (`--tls-verify=false`: plain HTTP).
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file (default: $REGISTRY_AUTH_FILE or /run/containers/0/auth.json).
    #[arg(long = "authfile", value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// Credentials (USERNAME:PASSWORD) for the registry.
    #[arg(long = "creds", value_name = "USER:PASS")]
    pub creds: Option<String>,
}

impl RegistryFlags {
    pub fn options(&self) -> berth_core::Result<RegistryOptions> {
        Ok(RegistryOptions {
            tls_verify: self.tls_verify,
            auth_file: self.authfile.clone(),
            creds: self.creds.as_deref().map(Credentials::parse).transpose()?,
            registries_conf: None,
        })
    }
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Print only the image ID.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Images to pull.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Print nothing but errors.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Manifest type: oci (default) or v2s2.
    #[arg(short = 'f', long, default_value = "oci")]
    pub format: String,
    /// Write the pushed manifest's digest to this file.
    #[arg(long = "digestfile", value_name = "PATH")]
    pub digestfile: Option<PathBuf>,
    /// The stored image.
    pub image: String,
    /// Where to push it (default: the image's name).
    pub destination: Option<String>,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// User name.
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password (prefer --password-stdin).
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Read the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Require HTTPS and verify certificates (`--tls-verify=false`: plain HTTP).
    #[arg(long = "tls-verify", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub tls_verify: Option<bool>,
    /// Path of the authentication file.
    #[arg(long = "authfile", value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// The registry (host[:port]).
    pub registry: String,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Path of the authentication file.
    #[arg(long = "authfile", value_name = "PATH")]
    pub authfile: Option<PathBuf>,
    /// The registry (host[:port]).
    pub registry: Option<String>,
}

// ---------------------------------------------------------------- progress

/// Shows transfer progress on stderr.
pub struct Reporter {
    mode: Mode,
    /// "Getting image source signatures" printed once, before the first blob.
    started: AtomicBool,
}

enum Mode {
    Quiet,
    Lines,
    Bars {
        multi: MultiProgress,
        bars: Mutex<HashMap<String, ProgressBar>>,
    },
}

fn short(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    &hex[..hex.len().min(12)]
}

impl Reporter {
    pub fn new(quiet: bool) -> Reporter {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: Mutex::new(HashMap::new()),
            }
        } else {
            Mode::Lines
        };
        Reporter {
            mode,
            started: AtomicBool::new(false),
        }
    }

    fn line(&self, s: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("{s}"),
            Mode::Bars { multi, .. } => {
                let _ = multi.println(s);
            }
        }
    }

    fn begin(&self) {
        if !self.started.swap(true, Ordering::Relaxed) {
            self.line("Getting image source signatures");
        }
    }

    pub fn report(&self, p: Progress<'_>) {
        match p {
            Progress::Trying(name) => self.line(&format!("Trying to pull {name}...")),
            Progress::BlobStart { digest, size } => {
                self.begin();
                if let Mode::Bars { multi, bars } = &self.mode {
                    let bar = multi.add(ProgressBar::new(size));
                    bar.set_style(
                        ProgressStyle::with_template(
                            "Copying blob {prefix} [{bar:30}] {bytes} / {total_bytes} | {bytes_per_sec}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    bar.set_prefix(short(digest).to_string());
                    lock(bars).insert(digest.to_string(), bar);
                }
            }
            Progress::BlobBytes { digest, n } => {
                if let Mode::Bars { bars, .. } = &self.mode {
                    if let Some(b) = lock(bars).get(digest) {
                        b.inc(n);
                    }
                }
            }
            Progress::BlobDone { digest } => match &self.mode {
                Mode::Bars { bars, .. } => {
                    if let Some(b) = lock(bars).remove(digest) {
                        b.finish_and_clear();
                    }
                    self.line(&format!("Copying blob {} done", short(digest)));
                }
                _ => self.line(&format!("Copying blob {} done", short(digest))),
            },
            Progress::BlobSkipped { digest } => {
                self.begin();
                self.line(&format!(
                    "Copying blob {} skipped: already exists",
                    short(digest)
                ));
            }
            Progress::Config { digest } => {
                self.begin();
                self.line(&format!("Copying config {} done", short(digest)));
            }
            Progress::WritingManifest => self.line("Writing manifest to image destination"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------- verbs

pub fn pull(rt: &Runtime, a: &PullArgs) -> Exit {
    let opts = match a.registry.options() {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let rep = Reporter::new(a.quiet);
    for name in &a.images {
        match rt.pull_image(name, &opts, &|p| rep.report(p)) {
            Ok(img) => println!("{}", img.id),
            Err(e) => return fail(&e),
        }
    }
    0
}

pub fn push(rt: &Runtime, a: &PushArgs) -> Exit {
    let run = || -> berth_core::Result<()> {
        let opts = a.registry.options()?;
        let format = ManifestFormat::parse(&a.format)?;
        let rep = Reporter::new(a.quiet);
        let digest = rt.push_image(&a.image, a.destination.as_deref(), &opts, format, &|p| {
            rep.report(p)
        })?;
        if let Some(f) = &a.digestfile {
            std::fs::write(f, &digest)
                .map_err(|e| Error::io(format!("writing {}", f.display()), e))?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

/// Read one line from stdin without its line end.
fn read_line(prompt: Option<&str>) -> berth_core::Result<String> {
    if let Some(p) = prompt {
        eprint!("{p}");
        let _ = std::io::stderr().flush();
    }
    let mut s = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut s)
        .map_err(|e| Error::io("reading stdin", e))?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

/// Prompt for a password on the terminal with echo off.
fn read_password() -> berth_core::Result<String> {
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it or fails.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and pointer to a termios struct.
    let have_tty = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have_tty {
        let mut quiet = old;
        quiet.c_lflag &= !libc::ECHO;
        // SAFETY: valid fd and termios.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
    }
    let r = read_line(Some("Password: "));
    if have_tty {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
        eprintln!();
    }
    r
}

pub fn login(a: &LoginArgs) -> Exit {
    let run = || -> berth_core::Result<()> {
        let tty = std::io::stdin().is_terminal();
        if a.password.is_some() && a.password_stdin {
            return Err(Error::invalid(
                "--password and --password-stdin are mutually exclusive",
            ));
        }
        let username = match &a.username {
            Some(u) => u.clone(),
            None if tty && !a.password_stdin => read_line(Some("Username: "))?,
            None => return Err(Error::invalid("--username is required without a terminal")),
        };
        let password = match &a.password {
            Some(p) => p.clone(),
            None if a.password_stdin => read_line(None)?,
            None if tty => read_password()?,
            None => {
                return Err(Error::invalid(
                    "a password is required: use --password-stdin or --password",
                ))
            }
        };
        if username.is_empty() || password.is_empty() {
            return Err(Error::invalid("user name and password must not be empty"));
        }
        let opts = RegistryOptions {
            tls_verify: a.tls_verify,
            auth_file: a.authfile.clone(),
            ..Default::default()
        };
        let creds = Credentials { username, password };
        berth_core::registry::login(&a.registry, &creds, &opts)?;
        println!("Login Succeeded!");
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}

pub fn logout(a: &LogoutArgs) -> Exit {
    let opts = RegistryOptions {
        auth_file: a.authfile.clone(),
        ..Default::default()
    };
    let res = match (&a.registry, a.all) {
        (Some(_), true) => Err(Error::invalid("--all takes no registry")),
        (None, false) => Err(Error::invalid("logout needs a registry or --all")),
        (r, _) => berth_core::registry::logout(r.as_deref(), &opts),
    };
    match res {
        Ok(()) => {
            match &a.registry {
                Some(r) => println!("Removed login credentials for {r}"),
                None => println!("Removed login credentials for all registries"),
            }
            0
        }
        Err(e) => fail(&e),
    }
}

/// The pull step of `create`/`run`: make `opts.image` present as
/// `--pull` says.
pub fn pull_for_create(
    rt: &Runtime,
    a: &crate::create_args::CreateArgs,
    opts: &mut berth_core::CreateOptions,
) -> Result<(), Exit> {
    let run = || -> berth_core::Result<Option<String>> {
        let policy = PullPolicy::parse(&a.pull)?;
        let rep = Reporter::new(a.quiet);
        let (img, pulled) =
            rt.image_for_create(&opts.image, policy, &a.registry.options()?, &|p| {
                rep.report(p)
            })?;
        // A fresh pull may have added a second image with the same short
        // name: create from exactly the pulled one.
        Ok(pulled.then_some(img.id))
    };
    match run() {
        Ok(Some(id)) => {
            opts.image = id;
            Ok(())
        }
        Ok(None) => Ok(()),
        Err(e) => Err(fail(&e)),
    }
}
