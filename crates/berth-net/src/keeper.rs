//! Keeps the default network's bridge up between containers, as Docker
//! keeps `docker0`.
//!
//! netavark removes a bridge network completely — the bridge, its NAT and
//! forward chains — when its last container leaves, and builds it all again
//! for the next one: for a `run --rm` on the default network that is about
//! half of netavark's `iptables` execs (measured here: 318 ms cold against
//! 159 ms warm for `run --rm --network berth true`). netavark keeps the
//! network while any other port is on the bridge, so berth adds one: one end
//! of a veth pair, down and without an address, which carries nothing.
//! Only the default network gets one; a user network still goes with its
//! last container, as in Podman.

use std::path::Path;
use std::process::{Command, Stdio};

/// The keeper port's name for `bridge`, if the name leaves room for it
/// (interface names have at most 15 bytes).
pub fn keeper_name(bridge: &str) -> Option<String> {
    (bridge.len() <= 13).then(|| format!("{bridge}k"))
}

/// Put a keeper port on `bridge` unless it has one. Best effort: the
/// bridge works without it (netavark then rebuilds it each time), so a
/// failure only costs time. Cheap when the port exists (one `stat`).
pub fn keep(bridge: &str) {
    let Some(port) = keeper_name(bridge) else {
        return;
    };
    let sys = Path::new("/sys/class/net");
    if sys.join(&port).exists() || !sys.join(bridge).exists() {
        return;
    }
    let peer = format!("{port}p");
    // Two berth processes may race here: the loser's `add` fails on the
    // existing name and its `set` finds the port already enslaved.
    let _ = ip(&["link", "add", &port, "type", "veth", "peer", "name", &peer]);
    let _ = ip(&["link", "set", &port, "master", bridge]);
}

fn ip(args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeper_names_fit_an_interface_name() {
        assert_eq!(keeper_name("berth0").as_deref(), Some("berth0k"));
        assert_eq!(
            keeper_name("abcdefghijklm").as_deref(),
            Some("abcdefghijklmk")
        );
        assert_eq!(keeper_name("abcdefghijklmn"), None);
    }
}
