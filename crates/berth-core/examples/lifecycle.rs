//! Drive one container through its lifecycle with `berth-core` alone.
//!
//! Needs root, runc, the `berth-mon` binary (built by `cargo build`) and the
//! test image loaded (`scripts/setup.sh` does both):
//!
//! ```text
//! cargo build --bins && cargo run -p berth-core --example lifecycle
//! ```
//!
//! It uses the default roots (/var/lib/berth, /run/berth), so the container
//! is visible to `berth ps -a` while it exists.

use berth_core::{CreateOptions, Runtime, RuntimeOptions};

fn main() -> Result<(), berth_core::Error> {
    let rt = Runtime::open(RuntimeOptions::default())?;
    let ctr = rt.create_container(&CreateOptions {
        image: "localhost/busybox".into(),
        command: vec![
            "sh".into(),
            "-c".into(),
            "echo hello from $(hostname); exit 7".into(),
        ],
        ..Default::default()
    })?;
    println!("created {}", ctr.id());

    // Attach before the start so no output is missed, as `berth run` does.
    let output = ctr.start_and_attach()?;
    output.relay(
        None::<std::io::Empty>,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )?;
    let code = ctr.wait_for_exit()?;
    println!(
        "exited with {code}; state {}",
        ctr.inspect_record()?.state.state
    );

    // Several operations under one hold of the container's lock.
    ctr.batch(|c| {
        c.sync()?;
        println!("in batch: state {}", c.state());
        Ok(())
    })?;

    ctr.remove(false, None)?;
    println!("removed");
    Ok(())
}
