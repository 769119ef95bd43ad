//! `berth healthcheck run` (Podman's exit codes: 0 healthy, 1 unhealthy,
//! 125 error) and the hidden `healthcheck timer` that schedules checks
//! (see `berth_core::container::health`).

use crate::report::{fail, Exit};
use berth_core::Runtime;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum HealthcheckCommand {
    /// Run a container's healthcheck once.
    Run {
        /// The container.
        container: String,
    },
    /// Schedule a container's checks until its run ends (started by berth).
    #[command(hide = true)]
    Timer {
        /// Full container ID.
        id: String,
        /// Monitor token of the run the timer belongs to.
        token: String,
    },
}

/// `healthcheck run`: prints "unhealthy" and exits 1 when the check failed.
pub fn healthcheck(rt: &Runtime, cmd: &HealthcheckCommand) -> Exit {
    match cmd {
        HealthcheckCommand::Run { container } => {
            match rt.lookup(container).and_then(|c| c.healthcheck_run()) {
                Ok(o) if o.passed => 0,
                Ok(_) => {
                    println!("unhealthy");
                    1
                }
                Err(e) => fail(&e),
            }
        }
        HealthcheckCommand::Timer { id, token } => {
            match rt.lookup(id).and_then(|c| c.health_timer(token)) {
                Ok(()) => 0,
                Err(e) => fail(&e),
            }
        }
    }
}

/// True for `healthcheck timer`, which must detach before the engine opens
/// its database (see `detach_timer_process`).
pub fn is_timer(cmd: &HealthcheckCommand) -> bool {
    matches!(cmd, HealthcheckCommand::Timer { .. })
}
