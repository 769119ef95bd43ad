//! Published ports: `-p [hostip:][hostport[-end]:]ctrport[-end][/proto]`
//! parsed into netavark's port mappings, and host ports picked when the user
//! leaves them out (`-p 80`, `-P`).

use berth_types::net::PortMapping;
use berth_types::{Error, Result};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};

fn bad(spec: &str, why: &str) -> Error {
    Error::invalid(format!("invalid port mapping {spec:?}: {why}"))
}

/// `N` or `N-M` → (first, count).
fn parse_range(spec: &str, s: &str) -> Result<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| bad(spec, "ports are numbers from 1 to 65535"))?;
    let b: u16 = b
        .parse()
        .ok()
        .filter(|p| *p >= a)
        .ok_or_else(|| bad(spec, "a range is LOW-HIGH"))?;
    Ok((a, b - a + 1))
}

/// Parse one `-p` value. A missing host port is left 0: [`assign_host_ports`]
/// picks free ones.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    let (addr, protos) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let protocols: Vec<&str> = protos.split(',').collect();
    for p in &protocols {
        if !matches!(*p, "tcp" | "udp" | "sctp") {
            return Err(bad(spec, "protocol must be tcp, udp or sctp"));
        }
    }
    // An IPv6 host address comes in brackets.
    let (host_ip, rest) = match addr.strip_prefix('[') {
        Some(r) => {
            let (ip, rest) = r
                .split_once("]:")
                .ok_or_else(|| bad(spec, "unterminated [address]"))?;
            (ip.to_string(), rest.to_string())
        }
        None => {
            let parts: Vec<&str> = addr.split(':').collect();
            match parts.as_slice() {
                [c] => (String::new(), c.to_string()),
                [h, c] => (String::new(), format!("{h}:{c}")),
                [ip, h, c] => (ip.to_string(), format!("{h}:{c}")),
                _ => return Err(bad(spec, "too many colons")),
            }
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<std::net::IpAddr>().is_err() {
        return Err(bad(spec, "host address is not an IP address"));
    }
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest.as_str()),
    };
    let (container_port, range) = parse_range(spec, ctr)?;
    let host_port = if host.is_empty() {
        0
    } else {
        let (h, n) = parse_range(spec, host)?;
        if n != range {
            return Err(bad(spec, "host and container ranges differ in length"));
        }
        h
    };
    if u32::from(container_port) + u32::from(range) - 1 > 65535
        || u32::from(host_port) + u32::from(range) - 1 > 65535
    {
        return Err(bad(spec, "range runs past 65535"));
    }
    Ok(protocols
        .into_iter()
        .map(|p| PortMapping {
            host_ip: host_ip.clone(),
            container_port,
            host_port,
            range,
            protocol: p.to_string(),
        })
        .collect())
}

/// Image `EXPOSE` entries (`80/tcp`, `53/udp`, `8000-8001`) for `-P`: each
/// published on a free host port.
pub fn parse_exposed(exposed: &[String]) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    for e in exposed {
        out.extend(parse_publish(e)?);
    }
    Ok(out)
}

/// A port the kernel says is free on `ip` now.
fn free_port(ip: &str, protocol: &str) -> Result<u16> {
    let ip = if ip.is_empty() { "0.0.0.0" } else { ip };
    let addr = (
        ip.parse::<std::net::IpAddr>()
            .unwrap_or(Ipv4Addr::UNSPECIFIED.into()),
        0,
    );
    let port = if protocol == "udp" {
        UdpSocket::bind(addr).and_then(|s| s.local_addr())
    } else {
        TcpListener::bind(addr).and_then(|s| s.local_addr())
    };
    port.map(|a| a.port())
        .map_err(|e| Error::io(format!("finding a free host port on {ip}"), e))
}

/// Give every mapping without a host port a free one (one at a time: a
/// range left open is published port by port, as Podman does).
pub fn assign_host_ports(maps: Vec<PortMapping>) -> Result<Vec<PortMapping>> {
    let mut out = Vec::new();
    for m in maps {
        if m.host_port != 0 {
            out.push(m);
            continue;
        }
        for i in 0..m.range {
            out.push(PortMapping {
                host_port: free_port(&m.host_ip, &m.protocol)?,
                container_port: m.container_port + i,
                range: 1,
                ..m.clone()
            });
        }
    }
    Ok(out)
}

/// Podman's `Ports` key: `80/tcp`.
pub fn port_key(container_port: u16, protocol: &str) -> String {
    format!("{container_port}/{protocol}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> PortMapping {
        let v = parse_publish(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v[0].clone()
    }

    #[test]
    fn forms() {
        let m = one("127.0.0.1:8080:80");
        assert_eq!(
            (m.host_ip.as_str(), m.host_port, m.container_port),
            ("127.0.0.1", 8080, 80)
        );
        let m = one("8080:80/udp");
        assert_eq!((m.host_port, m.protocol.as_str()), (8080, "udp"));
        assert_eq!(one("80").host_port, 0);
        assert_eq!(one("127.0.0.1::80").host_port, 0);
        let m = one("8000-8002:80-82");
        assert_eq!((m.host_port, m.container_port, m.range), (8000, 80, 3));
        assert_eq!(parse_publish("53:53/tcp,udp").unwrap().len(), 2);
        assert_eq!(one("[::1]:80:80").host_ip, "::1");
        for bad in [
            "",
            "x",
            "0",
            "80/icmp",
            "8000-8001:80",
            "1:2:3:4",
            "nope:80:80",
            "9-8",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn open_host_ports_get_picked() {
        let maps = assign_host_ports(parse_publish("127.0.0.1::80-81").unwrap()).unwrap();
        assert_eq!(maps.len(), 2);
        assert!(maps.iter().all(|m| m.host_port != 0 && m.range == 1));
        assert_eq!(maps[1].container_port, 81);
    }
}
