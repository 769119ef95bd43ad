//! The network side of a restore. A container's private network namespace
//! (created by the runtime, not by berth) is restored by CRIU as a new,
//! empty namespace whose loopback interface is down: restored sockets
//! bound to or connected over 127.0.0.1 then fail ("Network is
//! unreachable"), and the process finds no loopback afterwards either.
//!
//! The fix is the runtime's own mechanism for this: when CRIU has created
//! the namespaces, before it restores files and sockets, runc runs the
//! bundle's `prestart` hooks with the restored init's pid in the OCI state.
//! For a restore the bundle gets one more: `berth container restore-hook`,
//! which brings `lo` up in that pid's network namespace.

use crate::Runtime;
use berth_types::{Error, ErrorKind, Result};
use oci_spec::runtime::{Hooks, Spec};
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::AsFd;

/// The hidden CLI words that run [`restore_network_hook`].
pub const RESTORE_HOOK_ARGS: [&str; 2] = ["container", "restore-hook"];

/// Add the restore's prestart hook (see the module documentation) to
/// `spec`, after the hooks.d ones.
pub(crate) fn add_restore_hook(rt: &Runtime, spec: &mut Spec) -> Result<()> {
    let berth = rt.berth_binary.to_string_lossy().into_owned();
    let mut args = vec![berth.clone()];
    args.extend(RESTORE_HOOK_ARGS.iter().map(|a| a.to_string()));
    // Through JSON, as hooks.rs does: oci-spec marks `prestart` deprecated,
    // but it is the stage runc runs when CRIU has set up the namespaces.
    let mut hooks = serde_json::to_value(spec.hooks().clone().unwrap_or_default())?;
    if !hooks.is_object() {
        hooks = json!({});
    }
    let stage = &mut hooks["prestart"];
    if !stage.is_array() {
        *stage = json!([]);
    }
    if let Some(list) = stage.as_array_mut() {
        list.push(json!({ "path": berth, "args": args }));
    }
    let hooks: Hooks = serde_json::from_value(hooks)?;
    spec.set_hooks(Some(hooks));
    Ok(())
}

/// The restore's prestart hook: read the OCI state from `state` (the
/// hook's stdin) and bring the loopback interface up in the network
/// namespace of its `pid`.
pub fn restore_network_hook(state: impl Read) -> Result<()> {
    let v: Value = serde_json::from_reader(state)
        .map_err(|e| Error::invalid(format!("restore hook: reading the OCI state: {e}")))?;
    let pid = v["pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::invalid("restore hook: the OCI state has no pid"))?;
    let path = format!("/proc/{pid}/ns/net");
    let ns = std::fs::File::open(&path).map_err(|e| Error::io(format!("opening {path}"), e))?;
    // This short-lived process enters the namespace for good.
    rustix::thread::move_into_link_name_space(
        ns.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .map_err(|e| Error::io(format!("entering {path}"), e.into()))?;
    loopback_up()
}

/// Set `IFF_UP` on `lo` in the current network namespace (the kernel then
/// gives it 127.0.0.1 and ::1, as on any fresh namespace's loopback).
fn loopback_up() -> Result<()> {
    let fail = |what: &str| {
        Error::new(
            ErrorKind::Io,
            format!(
                "restore hook: {what} lo: {}",
                std::io::Error::last_os_error()
            ),
        )
    };
    // SAFETY: plain syscalls on a socket this function owns and a
    // zero-initialised `ifreq` whose name is NUL-terminated.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(fail("socket for"));
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo") {
            *dst = *src as libc::c_char;
        }
        let res = if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            Err(fail("reading the flags of"))
        } else {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS, &ifr) < 0 {
                Err(fail("bringing up"))
            } else {
                Ok(())
            }
        };
        libc::close(sock);
        res
    }
}
