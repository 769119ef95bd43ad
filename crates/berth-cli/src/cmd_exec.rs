//! `berth exec`: run a command in a running container. The exit code is the
//! command's, 126/127 when it cannot be invoked or found, 125 for engine
//! errors (a container that is not running).

use crate::report::{fail, Exit};
use berth_core::container::exec::ExecOptions;
use berth_core::{Error, Runtime};
use clap::Args;
use std::path::PathBuf;

/// `berth exec [flags] CONTAINER COMMAND [ARG...]`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Run in the background and print the exec session ID.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep stdin open and send it to the command.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables (`KEY=value`, or `KEY` to take berth's).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from files.
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Run as this user (`uid[:gid]` or a name from the container).
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Give the command every capability.
    #[arg(long)]
    pub privileged: bool,
    /// Key sequence to detach (default ctrl-p,ctrl-q; empty disables).
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Exec in the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container (unless --latest), then the command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// `-e` entries: `KEY=value` as is, `KEY` from berth's own environment
/// (dropped when unset), like Podman.
fn expand_env(entries: &[String]) -> berth_core::Result<Vec<String>> {
    let mut out = Vec::new();
    for e in entries {
        match e.split_once('=') {
            Some(("", _)) => {
                return Err(Error::invalid(format!(
                    "invalid environment variable {e:?}: empty name"
                )))
            }
            Some(_) => out.push(e.clone()),
            None => {
                if let Ok(v) = std::env::var(e) {
                    out.push(format!("{e}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// The options for the library: env files first, then `-e` (later wins).
fn options(a: &ExecArgs, command: Vec<String>) -> berth_core::Result<ExecOptions> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| Error::io(format!("reading env file {}", f.display()), e))?;
        env.extend(berth_core::parse_env_file(&text)?);
    }
    env.extend(expand_env(&a.env)?);
    Ok(ExecOptions {
        command,
        env,
        user: a.user.clone().unwrap_or_default(),
        workdir: a.workdir.clone().unwrap_or_default(),
        privileged: a.privileged,
        interactive: a.interactive,
        tty: a.tty,
        // From the start, not only after the attach client's first resize.
        console_size: if a.tty {
            berth_core::terminal_size()
        } else {
            None
        },
    })
}

/// Run `berth exec`; returns the command's exit code.
pub fn exec(rt: &Runtime, a: &ExecArgs) -> Exit {
    let (ctr, command) = if a.latest {
        (rt.latest(), a.words.clone())
    } else {
        (rt.lookup(&a.words[0]), a.words[1..].to_vec())
    };
    if command.is_empty() {
        eprintln!("Error: must provide a non-empty command to start an exec session");
        return 125;
    }
    let run = || -> berth_core::Result<Exit> {
        let c = ctr?;
        let opts = options(a, command)?;
        if a.detach {
            println!("{}", c.exec_detached(&opts)?);
            return Ok(0);
        }
        let attached = c.exec_attached(&opts)?;
        let session = crate::cmd_container::cmd_attach::Session {
            stdin: a.interactive,
            tty: a.tty,
            detach_keys: a.detach_keys.as_deref(),
            proxy_to: None,
        };
        if crate::cmd_container::cmd_attach::relay(attached.stream, &session)? {
            // Detached: the session runs on under its monitor.
            return Ok(0);
        }
        rt.exec_wait(&attached.session_id)
    };
    run().unwrap_or_else(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion() {
        std::env::set_var("BERTH_EXEC_TEST_VAR", "v");
        let got = expand_env(&[
            "A=1".into(),
            "BERTH_EXEC_TEST_VAR".into(),
            "BERTH_EXEC_UNSET_VAR".into(),
        ])
        .unwrap();
        assert_eq!(got, ["A=1", "BERTH_EXEC_TEST_VAR=v"]);
        assert!(expand_env(&["=x".into()]).is_err());
    }
}
