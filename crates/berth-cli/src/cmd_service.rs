//! `berth system service`: serve the Docker Engine API (`berth-api`) on a
//! unix socket until stopped or idle.

use crate::report::{fail, Exit};
use clap::Args;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Exit after SECONDS without any connection; 0 runs until stopped.
    #[arg(
        short = 't',
        long = "time",
        default_value_t = 5,
        value_name = "SECONDS"
    )]
    pub time: u64,
    /// Where to listen: unix:///PATH (default unix:///run/berth/berth.sock).
    #[arg(value_name = "URI")]
    pub uri: Option<String>,
}

pub fn service(cli: &crate::Cli, a: &ServiceArgs) -> Exit {
    // Parse the address before opening the engine: a refused TCP address
    // must not touch any state.
    let socket = match berth_api::parse_address(a.uri.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let rt = match crate::runtime(cli) {
        Ok(rt) => rt,
        Err(e) => return fail(&e),
    };
    let opts = berth_api::ServiceOptions {
        socket,
        idle_timeout: (a.time > 0).then(|| Duration::from_secs(a.time)),
    };
    match berth_api::run(rt, opts) {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}
