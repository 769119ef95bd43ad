//! Address management rules (pure; the state database records who holds
//! what): subnet parsing and choice, gateways, the next free address.

use berth_types::{Error, Result};
use ipnet::Ipv4Net;
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// Parse an IPv4 subnet; host bits must be zero (`10.90.1.0/24`).
pub fn parse_subnet(s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| Error::invalid(format!("invalid subnet {s:?}: expected an IPv4 CIDR")))?;
    if net.trunc() != net {
        return Err(Error::invalid(format!(
            "invalid subnet {s:?}: host bits set (did you mean {}?)",
            net.trunc()
        )));
    }
    if net.prefix_len() > 30 {
        return Err(Error::invalid(format!(
            "invalid subnet {s:?}: too small for a gateway and a container"
        )));
    }
    Ok(net)
}

/// Parse an IPv4 address.
pub fn parse_ip(s: &str) -> Result<Ipv4Addr> {
    s.parse()
        .map_err(|_| Error::invalid(format!("invalid IPv4 address {s:?}")))
}

/// The first host address: the gateway when none is configured.
pub fn default_gateway(net: &Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + 1)
}

/// True when the two subnets share an address.
pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The lowest address of `net` that is neither the network, broadcast or
/// gateway address nor in `used`.
pub fn next_free(net: &Ipv4Net, gateway: Ipv4Addr, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let first = u32::from(net.network()) + 1;
    let last = u32::from(net.broadcast()).checked_sub(1)?;
    (first..=last)
        .map(Ipv4Addr::from)
        .find(|ip| *ip != gateway && !used.contains(ip))
}

/// Check that a requested address (`--ip`) can be given out on `net`.
pub fn check_static(net: &Ipv4Net, gateway: Ipv4Addr, ip: Ipv4Addr) -> Result<()> {
    if !net.contains(&ip) || ip == net.network() || ip == net.broadcast() || ip == gateway {
        return Err(Error::invalid(format!(
            "requested IP address {ip} is not available in subnet {net}"
        )));
    }
    Ok(())
}

/// The first free /24 of 10.90.1.0 .. 10.90.255.0 (user networks; the
/// default network has 10.90.0.0/24) that overlaps none of `taken`.
pub fn pick_subnet(taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    (1u32..=255)
        .map(|n| Ipv4Net::new(Ipv4Addr::new(10, 90, n as u8, 0), 24).expect("valid prefix"))
        .find(|cand| !taken.iter().any(|t| overlaps(t, cand)))
}

/// The interface of the host's default route: a macvlan network's parent
/// when none is given.
pub fn default_route_interface() -> Option<String> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"00000000") && f.get(7) == Some(&"00000000")).then(|| f[0].to_string())
    })
}

/// The host's IPv4 routes (from `/proc/net/route`), so a new network does
/// not shadow a subnet the host already reaches. The default route is left
/// out (it overlaps everything).
pub fn host_routes() -> Vec<Ipv4Net> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None;
            }
            // The file prints the raw (network-order) words as native
            // integers: their native bytes are the address bytes.
            let dest = Ipv4Addr::from(dest.to_ne_bytes());
            let prefix = u32::from_be_bytes(mask.to_ne_bytes()).leading_ones() as u8;
            Ipv4Net::new(dest, prefix).ok().map(|n| n.trunc())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_and_addresses() {
        assert!(parse_subnet("10.90.1.1/24").is_err());
        assert!(parse_subnet("nope").is_err());
        let net = parse_subnet("10.90.1.0/24").unwrap();
        let gw = default_gateway(&net);
        assert_eq!(gw, Ipv4Addr::new(10, 90, 1, 1));
        let mut used = HashSet::new();
        assert_eq!(
            next_free(&net, gw, &used),
            Some(Ipv4Addr::new(10, 90, 1, 2))
        );
        used.insert(Ipv4Addr::new(10, 90, 1, 2));
        assert_eq!(
            next_free(&net, gw, &used),
            Some(Ipv4Addr::new(10, 90, 1, 3))
        );
        let tiny = parse_subnet("10.1.0.0/30").unwrap();
        let used: HashSet<_> = [Ipv4Addr::new(10, 1, 0, 2)].into();
        assert_eq!(next_free(&tiny, default_gateway(&tiny), &used), None);
        assert!(check_static(&net, gw, gw).is_err());
        assert!(check_static(&net, gw, Ipv4Addr::new(10, 90, 2, 3)).is_err());
        assert!(check_static(&net, gw, Ipv4Addr::new(10, 90, 1, 9)).is_ok());
    }

    #[test]
    fn subnet_choice_skips_taken_ones() {
        let taken = [
            parse_subnet("10.90.1.0/24").unwrap(),
            parse_subnet("10.90.2.0/23").unwrap(),
        ];
        assert_eq!(pick_subnet(&taken).unwrap().to_string(), "10.90.4.0/24");
        assert!(overlaps(&taken[1], &parse_subnet("10.90.3.0/24").unwrap()));
    }

    #[test]
    fn host_routes_parse() {
        // Whatever the host has, every entry is a valid truncated net.
        for r in host_routes() {
            assert_eq!(r, r.trunc());
        }
    }
}
