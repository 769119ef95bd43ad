//! `berth-mon`: the per-container monitor. See the `berth_monitor` crate
//! docs and `berth_types::monitor` for the protocol.

fn main() {
    std::process::exit(berth_monitor::run(std::env::args_os().skip(1)));
}
