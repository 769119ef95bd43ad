//! The container's `/etc/hosts` and `/etc/resolv.conf`.

use berth_types::{Error, Result};

/// What `/etc/hosts` lists besides localhost.
#[derive(Debug, Clone, Default)]
pub struct HostsInput<'a> {
    /// The container's host name.
    pub hostname: &'a str,
    /// The container's name.
    pub name: &'a str,
    /// The container's own address: its first network's; `127.0.1.1` when
    /// it has none.
    pub own_ip: Option<&'a str>,
    /// `--network-alias` names, listed with the own address.
    pub aliases: &'a [String],
    /// `--add-host NAME:IP` entries.
    pub add_hosts: &'a [String],
}

/// Split `--add-host NAME:IP` (the IP may be IPv6, so at the first colon).
pub fn parse_add_host(entry: &str) -> Result<(String, String)> {
    let (name, ip) = entry
        .split_once(':')
        .or_else(|| entry.split_once('='))
        .ok_or_else(|| Error::invalid(format!("invalid --add-host {entry:?}: expected HOST:IP")))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || ip.parse::<std::net::IpAddr>().is_err() {
        return Err(Error::invalid(format!(
            "invalid --add-host {entry:?}: expected HOST:IP"
        )));
    }
    Ok((name.to_string(), ip.to_string()))
}

/// The `/etc/hosts` text.
pub fn hosts(i: &HostsInput<'_>) -> Result<String> {
    let mut out = String::from(
        "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain\n",
    );
    for h in i.add_hosts {
        let (name, ip) = parse_add_host(h)?;
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    let mut names = vec![i.hostname];
    if i.name != i.hostname {
        names.push(i.name);
    }
    names.extend(
        i.aliases
            .iter()
            .map(String::as_str)
            .filter(|a| !names_has(a, i)),
    );
    out.push_str(&format!(
        "{}\t{}\n",
        i.own_ip.unwrap_or("127.0.1.1"),
        names.join(" ")
    ));
    Ok(out)
}

fn names_has(a: &str, i: &HostsInput<'_>) -> bool {
    a == i.hostname || a == i.name
}

/// What `/etc/resolv.conf` is made of.
#[derive(Debug, Clone, Default)]
pub struct ResolvInput<'a> {
    /// The host's `/etc/resolv.conf` text.
    pub host: &'a str,
    /// aardvark-dns addresses of the container's DNS-enabled networks.
    pub network_servers: &'a [String],
    /// Search domains the networks report (`dns.podman`).
    pub network_search: &'a [String],
    /// `--dns`: replaces every other server when given.
    pub servers: &'a [String],
    /// `--dns-search`.
    pub search: &'a [String],
    /// `--dns-option`.
    pub options: &'a [String],
}

/// The `/etc/resolv.conf` text: `--dns` servers when given; else the
/// networks' aardvark addresses first, then the host's servers (minus
/// loopback ones, which would mean the container's own loopback).
pub fn resolv_conf(i: &ResolvInput<'_>) -> String {
    let mut host_servers = Vec::new();
    let mut host_search = Vec::new();
    let mut host_options = Vec::new();
    for line in i.host.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(a) = w.next() {
                    if !(a.starts_with("127.") || a == "::1") {
                        host_servers.push(a.to_string());
                    }
                }
            }
            Some("search") | Some("domain") => host_search.extend(w.map(String::from)),
            Some("options") => host_options.extend(w.map(String::from)),
            _ => {}
        }
    }
    let servers: Vec<String> = if !i.servers.is_empty() {
        i.servers.to_vec()
    } else {
        i.network_servers
            .iter()
            .cloned()
            .chain(host_servers)
            .collect()
    };
    let search: Vec<String> = if i.search.iter().any(|s| s == ".") {
        Vec::new()
    } else if !i.search.is_empty() {
        i.network_search.iter().chain(i.search).cloned().collect()
    } else {
        i.network_search
            .iter()
            .cloned()
            .chain(host_search)
            .collect()
    };
    let options: Vec<String> = if i.options.is_empty() {
        host_options
    } else {
        i.options.to_vec()
    };
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", dedup(search).join(" ")));
    }
    for s in dedup(servers) {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", dedup(options).join(" ")));
    }
    out
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_own_name_aliases_and_added_hosts() {
        let aliases = vec!["web".to_string(), "c1".to_string()];
        let add = vec!["db:10.0.0.9".to_string()];
        let h = hosts(&HostsInput {
            hostname: "abc",
            name: "c1",
            own_ip: Some("10.90.1.2"),
            aliases: &aliases,
            add_hosts: &add,
        })
        .unwrap();
        assert!(h.contains("10.0.0.9\tdb\n"), "{h}");
        assert!(h.contains("10.90.1.2\tabc c1 web\n"), "{h}");
        assert!(parse_add_host("nocolon").is_err());
        assert!(parse_add_host("x:notanip").is_err());
        assert_eq!(parse_add_host("h:::1").unwrap().1, "::1");
    }

    #[test]
    fn resolv_orders_network_servers_first() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions ndots:2\n";
        let ns = vec!["10.90.1.1".to_string()];
        let dom = vec!["dns.podman".to_string()];
        let r = resolv_conf(&ResolvInput {
            host,
            network_servers: &ns,
            network_search: &dom,
            ..Default::default()
        });
        assert_eq!(
            r,
            "search dns.podman lan\nnameserver 10.90.1.1\nnameserver 192.0.2.1\noptions ndots:2\n"
        );
        let mine = vec!["192.0.2.9".to_string()];
        let r = resolv_conf(&ResolvInput {
            host,
            servers: &mine,
            ..Default::default()
        });
        assert!(
            r.contains("nameserver 192.0.2.9\n") && !r.contains("192.0.2.1\n"),
            "{r}"
        );
    }
}
