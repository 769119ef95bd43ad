//! netavark's JSON contract (what Podman's libnetwork sends and reads):
//! `netavark --config DIR --rootless=false --aardvark-binary=PATH
//! setup|teardown NETNS`, [`NetworkOptions`] on stdin, a map of network
//! name → [`StatusBlock`] on stdout, or `{"error": "..."}` and a non-zero
//! exit. The `networks` field is sent in its map form, the only one
//! netavark 1.4 (Debian 12) accepts.

use berth_types::net::{Network, PortMapping};
use berth_types::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one network needs to know about the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerNetworkOptions {
    /// Interface inside the container (`eth0`).
    pub interface_name: String,
    /// The addresses berth's IPAM gave the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_ips: Option<Vec<String>>,
    /// A fixed MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
    /// Names aardvark-dns answers for besides the container's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
}

/// netavark's stdin document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkOptions {
    /// The container's full ID.
    pub container_id: String,
    /// The container's name (aardvark-dns answers for it).
    pub container_name: String,
    /// Networks to set up or tear down, by name.
    pub networks: BTreeMap<String, PerNetworkOptions>,
    /// Their definitions, by name.
    pub network_info: BTreeMap<String, Network>,
    /// Published ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_mappings: Option<Vec<PortMapping>>,
    /// Upstream servers aardvark-dns uses for this container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_servers: Option<Vec<String>>,
}

/// One address of an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetAddress {
    /// `10.90.1.2/24`.
    pub ipnet: String,
    /// The network's gateway.
    #[serde(default)]
    pub gateway: Option<String>,
}

/// One interface netavark configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetInterface {
    /// Its MAC address.
    pub mac_address: String,
    /// Its addresses.
    #[serde(default)]
    pub subnets: Option<Vec<NetAddress>>,
}

/// What netavark reports per network after setup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBlock {
    /// Search domains (`dns.podman` with aardvark-dns).
    #[serde(default)]
    pub dns_search_domains: Option<Vec<String>>,
    /// aardvark-dns's addresses.
    #[serde(default)]
    pub dns_server_ips: Option<Vec<String>>,
    /// Interfaces by name.
    #[serde(default)]
    pub interfaces: Option<BTreeMap<String, NetInterface>>,
}

/// Where to look for netavark and aardvark-dns (Podman's helper dirs).
const HELPER_DIRS: [&str; 4] = [
    "/usr/local/libexec/podman",
    "/usr/libexec/podman",
    "/usr/lib/podman",
    "/usr/local/lib/podman",
];

/// Every netavark run on the host takes this lock: netavark 1.4 has none of
/// its own, and two runs racing on one bridge (one tearing it down as the
/// other attaches) or on netavark's shared iptables chains fail.
pub const HOST_LOCK: &str = "/run/lock/berth-netavark.lock";

/// A netavark binary and the directory it keeps its state in.
#[derive(Debug, Clone)]
pub struct Netavark {
    /// The `netavark` binary.
    pub binary: PathBuf,
    /// The `aardvark-dns` binary netavark starts for DNS-enabled networks.
    pub aardvark: PathBuf,
    /// `--config`: aardvark-dns's per-network files live below it.
    pub config_dir: PathBuf,
}

fn helper(name: &str, env: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p));
    }
    HELPER_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

impl Netavark {
    /// Find the binaries (`BERTH_NETAVARK` / `BERTH_AARDVARK` override the
    /// search); netavark keeps its state in `config_dir`.
    pub fn find(config_dir: &Path) -> Result<Netavark> {
        let binary = helper("netavark", "BERTH_NETAVARK").ok_or_else(|| {
            Error::new(
                ErrorKind::Io,
                "netavark not found (install the netavark package): it sets up container networks",
            )
        })?;
        let aardvark = helper("aardvark-dns", "BERTH_AARDVARK")
            .unwrap_or_else(|| binary.with_file_name("aardvark-dns"));
        Ok(Netavark {
            binary,
            aardvark,
            config_dir: config_dir.to_path_buf(),
        })
    }

    /// Configure the networks of `opts` in the namespace at `netns`.
    pub fn setup(
        &self,
        netns: &Path,
        opts: &NetworkOptions,
    ) -> Result<BTreeMap<String, StatusBlock>> {
        let out = self.exec("setup", netns, opts)?;
        let status: BTreeMap<String, StatusBlock> = serde_json::from_slice(&out).map_err(|e| {
            Error::internal(format!(
                "netavark setup printed something that is not its status: {e}"
            ))
        })?;
        for name in opts.networks.keys() {
            if !status.contains_key(name) {
                return Err(Error::internal(format!(
                    "netavark setup reported nothing for network {name}"
                )));
            }
        }
        Ok(status)
    }

    /// Remove what `setup` did for `opts` (interfaces, firewall rules, DNS
    /// entries).
    pub fn teardown(&self, netns: &Path, opts: &NetworkOptions) -> Result<()> {
        self.exec("teardown", netns, opts).map(drop)
    }

    /// Run netavark's `verb` on `netns` with `opts` on stdin, under the
    /// host-wide lock; its stdout on success.
    fn exec(&self, verb: &str, netns: &Path, opts: &NetworkOptions) -> Result<Vec<u8>> {
        std::fs::create_dir_all(&self.config_dir)
            .map_err(|e| Error::io(format!("creating {}", self.config_dir.display()), e))?;
        let _lock = host_lock()?;
        let input = serde_json::to_vec(opts)?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config")
            .arg(&self.config_dir)
            .arg("--rootless=false")
            .arg(format!("--aardvark-binary={}", self.aardvark.display()))
            .arg(verb)
            .arg(netns)
            .env("PATH", path_with_sbin())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // aardvark-dns, which netavark starts, inherits netavark's
        // descriptors and may live long: give netavark nothing but its
        // stdio, whatever this process inherited without CLOEXEC.
        // SAFETY: close_range is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("running {}", self.binary.display()), e))?;
        if let Some(mut stdin) = child.stdin.take() {
            // The document is small; netavark reads all of it first.
            let _ = stdin.write_all(&input);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("waiting for {}", self.binary.display()), e))?;
        if !out.status.success() {
            #[derive(Deserialize)]
            struct Failure {
                error: String,
            }
            let msg = serde_json::from_slice::<Failure>(&out.stdout)
                .map(|f| f.error)
                .unwrap_or_else(|_| {
                    let err = String::from_utf8_lossy(&out.stderr);
                    err.lines().last().unwrap_or("no message").to_string()
                });
            return Err(Error::new(ErrorKind::Io, format!("netavark {verb}: {msg}")));
        }
        Ok(out.stdout)
    }
}

/// The host-wide netavark lock, held while the guard lives.
fn host_lock() -> Result<std::fs::File> {
    let path = Path::new(HOST_LOCK);
    if let Some(d) = path.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {HOST_LOCK}"), e))?;
    f.lock()
        .map_err(|e| Error::io(format!("locking {HOST_LOCK}"), e))?;
    Ok(f)
}

/// PATH with the sbin directories netavark's iptables calls need.
fn path_with_sbin() -> String {
    let cur = std::env::var("PATH").unwrap_or_default();
    let mut parts: Vec<&str> = cur.split(':').filter(|p| !p.is_empty()).collect();
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !parts.contains(&d) {
            parts.push(d);
        }
    }
    parts.join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_use_the_map_form_and_status_parses() {
        let mut opts = NetworkOptions {
            container_id: "a".repeat(64),
            container_name: "c".into(),
            ..Default::default()
        };
        opts.networks.insert(
            "n".into(),
            PerNetworkOptions {
                interface_name: "eth0".into(),
                static_ips: Some(vec!["10.90.1.2".into()]),
                ..Default::default()
            },
        );
        let v = serde_json::to_value(&opts).unwrap();
        assert_eq!(v["networks"]["n"]["static_ips"][0], "10.90.1.2");
        assert!(v.get("port_mappings").is_none());
        let status: BTreeMap<String, StatusBlock> = serde_json::from_str(
            r#"{"n":{"dns_search_domains":["dns.podman"],"dns_server_ips":["10.90.1.1"],
            "interfaces":{"eth0":{"mac_address":"12:5f:d1:27:03:c6",
            "subnets":[{"gateway":"10.90.1.1","ipnet":"10.90.1.2/24"}]}}}}"#,
        )
        .unwrap();
        let eth0 = &status["n"].interfaces.as_ref().unwrap()["eth0"];
        assert_eq!(eth0.subnets.as_ref().unwrap()[0].ipnet, "10.90.1.2/24");
    }
}
