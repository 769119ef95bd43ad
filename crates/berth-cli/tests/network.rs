//! Container networking through netavark: published ports served on the
//! host, names and aliases resolved between containers, `--internal`
//! isolation, `network rm` in use, connect/disconnect, reload, and no
//! leaked namespace files, bridges, firewall rules or address allocations.
//!
//! Network safety: only 127.0.0.1 and our own containers' addresses are
//! ever contacted. Every test makes its own networks with a subnet and a
//! bridge name derived from the process ID and a counter, so tests running
//! in parallel (each with its own berth root) never share one.

mod common;

use common::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A network of this test's own: (name, subnet prefix "10.X.Y", bridge).
struct TestNet {
    name: String,
    prefix: String,
    bridge: String,
}

impl TestNet {
    fn subnet(&self) -> String {
        format!("{}.0/24", self.prefix)
    }
    fn gateway(&self) -> String {
        format!("{}.1", self.prefix)
    }
}

/// Create a network with a subnet and bridge no other test uses.
fn make_net(env: &Env, extra: &[&str]) -> TestNet {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let t = TestNet {
        name: unique("net"),
        prefix: format!("10.{}.{}", 100 + pid % 100, n % 250),
        bridge: format!("bt{}x{n}", pid % 100_000),
    };
    let subnet = t.subnet();
    let mut args = vec![
        "network",
        "create",
        "--subnet",
        &subnet,
        "--interface-name",
        &t.bridge,
    ];
    args.extend_from_slice(extra);
    args.push(&t.name);
    env.ok(&args);
    t
}

/// A container serving `body` as /index.html with busybox httpd on port 80.
fn web_server(env: &Env, name: &str, net: &str, body: &str, publish: Option<u16>) {
    let script =
        format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let p = publish.map(|p| format!("127.0.0.1:{p}:80"));
    let mut args = vec!["run", "-d", "--name", name, "--network", net];
    if let Some(p) = &p {
        args.extend(["-p", p.as_str()]);
    }
    args.extend([IMAGE, "sh", "-c", &script]);
    env.ok(&args);
}

/// iptables rules (all tables) that mention `needle`.
fn rules_mentioning(needle: &str) -> Vec<String> {
    let o = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

fn host_has_link(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Address allocations recorded in the env's state database.
fn ipam_rows(env: &Env) -> usize {
    let db = rusqlite::Connection::open_with_flags(
        env.root.join("berth.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT count(*) FROM ipam", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

fn netns_files(env: &Env) -> usize {
    std::fs::read_dir(env.run.join("netns"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Nothing of `net` is left on the host or in the env.
#[track_caller]
fn assert_no_leaks(env: &Env, net: &TestNet) {
    assert_eq!(netns_files(env), 0, "namespace files left");
    assert!(!host_has_link(&net.bridge), "bridge {} left", net.bridge);
    assert_eq!(rules_mentioning(&net.prefix), Vec::<String>::new());
    assert_eq!(ipam_rows(env), 0, "address allocations left");
}

fn ip_of(env: &Env, ctr: &str, net: &str) -> String {
    env.inspect(ctr)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn published_port_is_served_on_the_host_and_everything_goes_on_rm() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let net = make_net(&env, &[]);
    let port = free_port();
    web_server(&env, "web", &net.name, "hello-berth", Some(port));
    wait_until("httpd to answer on the published port", || {
        fetch(port).is_some_and(|b| b.contains("hello-berth"))
    });
    assert_eq!(
        env.ok(&["port", "web"]),
        format!("80/tcp -> 127.0.0.1:{port}")
    );
    assert_eq!(env.ok(&["port", "web", "80"]), format!("127.0.0.1:{port}"));
    let ps = env.ok(&["ps", "--format", "{{.Ports}}"]);
    assert_eq!(ps, format!("127.0.0.1:{port}->80/tcp"));
    let doc = env.inspect("web");
    let ns = &doc["NetworkSettings"];
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostPort"], port.to_string());
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostIp"], "127.0.0.1");
    assert_eq!(ns["Gateway"], net.gateway());
    let ip = ns["IPAddress"].as_str().unwrap();
    assert!(ip.starts_with(&format!("{}.", net.prefix)), "{ip}");
    assert_eq!(ns["Networks"][&net.name]["IPAddress"], ip);
    assert_eq!(ns["IPPrefixLen"], 24);
    assert!(ns["MacAddress"].as_str().unwrap().len() == 17);
    assert_eq!(doc["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(doc["HostConfig"]["PortBindings"], ns["Ports"]);
    // The container's own view: its address on eth0, its name in
    // /etc/hosts, aardvark-dns first in /etc/resolv.conf.
    let addrs = env.ok(&["exec", "web", "ip", "-o", "-4", "addr", "show", "eth0"]);
    assert!(addrs.contains(&format!("{ip}/24")), "{addrs}");
    let hosts = env.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(
        hosts
            .lines()
            .any(|l| l.starts_with(ip) && l.contains("web")),
        "{hosts}"
    );
    let resolv = env.ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    let first_ns = resolv
        .lines()
        .find(|l| l.starts_with("nameserver"))
        .unwrap();
    assert_eq!(first_ns, format!("nameserver {}", net.gateway()));
    assert!(!rules_mentioning(&net.prefix).is_empty());
    assert_eq!(ipam_rows(&env), 1);
    assert_eq!(netns_files(&env), 1);

    env.ok(&["rm", "-f", "-t", "0", "web"]);
    assert_no_leaks(&env, &net);
    assert!(fetch(port).is_none(), "port still served after rm");
}

#[test]
fn stop_tears_down_and_start_sets_up_again() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let net = make_net(&env, &[]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        &net.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    let ip = ip_of(&env, "c", &net.name);
    env.ok(&["stop", "-t", "0", "c"]);
    assert_no_leaks(&env, &net);
    // Nothing live shows once stopped; the configured network stays.
    assert_eq!(env.inspect("c")["NetworkSettings"]["IPAddress"], "");
    env.ok(&["start", "c"]);
    assert_eq!(ip_of(&env, "c", &net.name), ip, "same lowest free address");
    assert_eq!(ipam_rows(&env), 1);
    // A container that exits by itself is torn down by its cleanup.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "short",
        "--network",
        &net.name,
        IMAGE,
        "true",
    ]);
    env.wait_status("short", "exited");
    wait_until("the exited container's address to be freed", || {
        ipam_rows(&env) == 1
    });
    env.ok(&["rm", "-f", "-t", "0", "c", "short"]);
    assert_no_leaks(&env, &net);
}

#[test]
fn crashed_monitor_and_container_leak_nothing_after_rm() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let net = make_net(&env, &[]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        &net.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    let doc = env.inspect("c");
    let (pid, mon) = (
        doc["State"]["Pid"].as_i64().unwrap() as i32,
        doc["State"]["ConmonPid"].as_i64().unwrap() as i32,
    );
    // Kill the monitor first, so no exit command runs: only rm cleans up.
    unsafe {
        libc::kill(mon, libc::SIGKILL);
        libc::kill(pid, libc::SIGKILL);
    }
    wait_until("the container's init to die", || !alive(pid));
    env.ok(&["rm", "-f", "-t", "0", "c"]);
    assert_no_leaks(&env, &net);
}

#[test]
fn containers_resolve_each_other_by_name_and_alias() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let net = make_net(&env, &[]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "alpha",
        "--network",
        &net.name,
        "--network-alias",
        "first",
        IMAGE,
        "sleep",
        "300",
    ]);
    web_server(&env, "beta", &net.name, "from-beta", None);
    let alpha_ip = ip_of(&env, "alpha", &net.name);
    let beta_ip = ip_of(&env, "beta", &net.name);
    // Fully qualified in aardvark-dns's own domain: answered by it, never
    // forwarded upstream.
    let o = env.ok(&["exec", "alpha", "nslookup", "-type=a", "beta.dns.podman"]);
    assert!(o.contains(&beta_ip), "{o}");
    let o = env.ok(&["exec", "beta", "nslookup", "-type=a", "first.dns.podman"]);
    assert!(o.contains(&alpha_ip), "{o}");
    let o = env.ok(&["exec", "beta", "nslookup", "-type=a", "alpha.dns.podman"]);
    assert!(o.contains(&alpha_ip), "{o}");
    // And reach it by name (the search domain makes the short name work).
    let get = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 beta 80";
    let mut body = String::new();
    wait_until("beta's httpd to answer alpha", || {
        body = env.berth(&["exec", "alpha", "sh", "-c", get]).stdout;
        body.contains("from-beta")
    });
    // The alias is in alpha's own /etc/hosts.
    let hosts = env.ok(&["exec", "alpha", "cat", "/etc/hosts"]);
    assert!(hosts.contains("first"), "{hosts}");
    env.ok(&["rm", "-f", "-t", "0", "alpha", "beta"]);
    assert_no_leaks(&env, &net);
}

#[test]
fn internal_network_cannot_reach_the_published_port() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let public = make_net(&env, &[]);
    let internal = make_net(&env, &["--internal"]);
    assert_eq!(
        env.ok(&[
            "network",
            "inspect",
            "--format",
            "{{.Internal}}",
            &internal.name
        ]),
        "true"
    );
    let port = free_port();
    web_server(&env, "web", &public.name, "secret", Some(port));
    wait_until("httpd to answer on the published port", || {
        fetch(port).is_some()
    });
    let web_ip = ip_of(&env, "web", &public.name);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "inside",
        "--network",
        &internal.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    let routes = env.ok(&["exec", "inside", "ip", "route"]);
    assert!(
        !routes.contains("default"),
        "internal network has a default route: {routes}"
    );
    for target in [
        format!("{} {port}", internal.gateway()),
        format!("{web_ip} 80"),
    ] {
        let get = format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target}");
        let o = env.berth(&["exec", "inside", "sh", "-c", &get]);
        assert!(!o.stdout.contains("secret"), "reached {target}\n{o}");
    }
    // The same request from the public network works: the check above is
    // not vacuous.
    env.ok(&[
        "run",
        "-d",
        "--name",
        "outside",
        "--network",
        &public.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    let get = format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {web_ip} 80");
    let o = env.ok(&["exec", "outside", "sh", "-c", &get]);
    assert!(o.contains("secret"), "{o}");
    env.ok(&["rm", "-f", "-t", "0", "web", "inside", "outside"]);
    assert_no_leaks(&env, &public);
    assert_no_leaks(&env, &internal);
}

#[test]
fn network_crud_and_rm_in_use() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let net = make_net(&env, &["--label", "team=a"]);
    // The default network is always there; ours is listed by name.
    let names = env.ok(&["network", "ls", "-q"]);
    assert!(names.lines().any(|l| l == "berth"), "{names}");
    assert!(names.lines().any(|l| l == net.name), "{names}");
    let table = env.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert!(
        table.lines().any(|l| l == format!("{} bridge", net.name)),
        "{table}"
    );
    let ls = env.berth(&["network", "ls", "--format", "json"]).json();
    assert!(ls
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["name"] == net.name.as_str()));
    let doc = &env.berth(&["network", "inspect", &net.name]).json()[0];
    assert_eq!(doc["driver"], "bridge");
    assert_eq!(doc["network_interface"], net.bridge.as_str());
    assert_eq!(doc["subnets"][0]["subnet"], net.subnet());
    assert_eq!(doc["subnets"][0]["gateway"], net.gateway());
    assert_eq!(doc["dns_enabled"], true);
    assert_eq!(doc["labels"]["team"], "a");
    assert_eq!(doc["id"].as_str().unwrap().len(), 64);
    env.expect(&["network", "exists", &net.name], 0);
    env.expect(&["network", "exists", "no-such-net"], 1);
    // Same name, same subnet, a bad subnet: refused.
    env.expect(&["network", "create", &net.name], 125);
    env.expect(
        &["network", "create", "--subnet", &net.subnet(), "other"],
        125,
    );
    env.expect(
        &["network", "create", "--subnet", "10.0.0.1/24", "other2"],
        125,
    );
    env.expect(&["network", "rm", "berth"], 125);
    env.expect(&["network", "rm", "no-such-net"], 1);
    // Unknown networks are refused at create time.
    env.expect(&["create", "--network", "no-such-net", IMAGE, "true"], 125);

    env.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "--network",
        &net.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    env.ok(&[
        "create",
        "--name",
        "idle",
        "--network",
        &net.name,
        IMAGE,
        "true",
    ]);
    let o = env.expect(&["network", "rm", &net.name], 125);
    assert!(o.err().contains("being used"), "{o}");
    env.expect(&["network", "exists", &net.name], 0);
    env.ok(&["network", "rm", "-f", &net.name]);
    env.expect(&["network", "exists", &net.name], 1);
    assert!(env.all_ids().is_empty(), "rm -f left its containers");
    assert_no_leaks(&env, &net);

    // macvlan: defined only (a container on it would sit on the host's LAN).
    let mac = unique("mac");
    env.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        "parent=lo",
        &mac,
    ]);
    let doc = &env.berth(&["network", "inspect", &mac]).json()[0];
    assert_eq!(doc["driver"], "macvlan");
    assert_eq!(doc["network_interface"], "lo");
    env.ok(&["network", "rm", &mac]);

    // prune removes unused networks only.
    let used = make_net(&env, &[]);
    let unused = make_net(&env, &[]);
    env.ok(&[
        "create",
        "--name",
        "holder",
        "--network",
        &used.name,
        IMAGE,
        "true",
    ]);
    let pruned = env.ok(&["network", "prune", "-f"]);
    assert_eq!(pruned, unused.name);
    env.expect(&["network", "exists", &used.name], 0);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let a = make_net(&env, &[]);
    let b = make_net(&env, &[]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "c",
        "--network",
        &a.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    env.ok(&["network", "connect", &b.name, "c"]);
    let ip_b = ip_of(&env, "c", &b.name);
    assert!(ip_b.starts_with(&b.prefix), "{ip_b}");
    let addrs = env.ok(&["exec", "c", "ip", "-o", "-4", "addr"]);
    assert!(
        addrs.contains(&format!("eth1    inet {ip_b}/24")) || addrs.contains(&ip_b),
        "{addrs}"
    );
    env.expect(&["network", "connect", &b.name, "c"], 125);
    assert_eq!(ipam_rows(&env), 2);
    env.ok(&["network", "disconnect", &b.name, "c"]);
    let addrs = env.ok(&["exec", "c", "ip", "-o", "-4", "addr"]);
    assert!(!addrs.contains(&ip_b), "{addrs}");
    assert!(env.inspect("c")["NetworkSettings"]["Networks"]
        .get(&b.name)
        .is_none());
    assert_eq!(ipam_rows(&env), 1);
    assert!(
        !host_has_link(&b.bridge),
        "bridge of the disconnected network left"
    );
    assert!(rules_mentioning(&b.prefix).is_empty());
    env.ok(&["rm", "-f", "-t", "0", "c"]);
    assert_no_leaks(&env, &a);
}

/// "Create, then connect" (Docker's and compose's way): a container made
/// with berth's default private namespace joins the network on its start;
/// one already in the runtime with that namespace is refused clearly.
#[test]
fn connect_before_start_gives_a_default_container_bridge_networking() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let a = make_net(&env, &[]);
    env.ok(&["create", "--name", "c", IMAGE, "sleep", "300"]);
    env.ok(&["network", "connect", &a.name, "c"]);
    env.ok(&["start", "c"]);
    let ip = ip_of(&env, "c", &a.name);
    assert!(ip.starts_with(&a.prefix), "{ip}");
    let addrs = env.ok(&["exec", "c", "ip", "-o", "-4", "addr"]);
    assert!(addrs.contains(&ip), "{addrs}");
    env.ok(&["run", "-d", "--name", "lo", IMAGE, "sleep", "300"]);
    env.expect(&["network", "connect", &a.name, "lo"], 125)
        .stderr_has("network mode none");
    env.ok(&["rm", "-f", "-t", "0", "c", "lo"]);
    assert_no_leaks(&env, &a);
}

#[test]
fn reload_puts_back_deleted_firewall_rules() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let net = make_net(&env, &[]);
    let port = free_port();
    web_server(&env, "web", &net.name, "reloaded", Some(port));
    wait_until("httpd to answer on the published port", || {
        fetch(port).is_some()
    });
    let ip = ip_of(&env, "web", &net.name);
    // Delete only our own DNAT rules: the ones forwarding to this container.
    let ours: Vec<String> = rules_mentioning(&format!("--to-destination {ip}:80"));
    assert!(!ours.is_empty());
    for rule in &ours {
        let words: Vec<&str> = rule.split_whitespace().collect();
        assert_eq!(words[0], "-A");
        let mut cmd = std::process::Command::new("iptables");
        cmd.args(["-t", "nat", "-D"]).args(&words[1..]);
        assert!(cmd.status().unwrap().success(), "deleting {rule}");
    }
    assert!(fetch(port).is_none(), "still served without its rules");
    let id = env.ok(&["network", "reload", "web"]);
    assert_eq!(id.len(), 64);
    wait_until("the reloaded rules to serve the port again", || {
        fetch(port).is_some_and(|b| b.contains("reloaded"))
    });
    assert_eq!(ip_of(&env, "web", &net.name), ip, "reload kept the address");
    env.ok(&["network", "reload", "--all"]);
    env.ok(&["rm", "-f", "-t", "0", "web"]);
    assert_no_leaks(&env, &net);
}

#[test]
fn etc_files_follow_the_flags() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let out = env.ok(&[
        "run",
        "--rm",
        "--hostname",
        "myhost",
        "--add-host",
        "db.local:192.0.2.7",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:3",
        IMAGE,
        "sh",
        "-c",
        "cat /etc/hosts /etc/resolv.conf; hostname",
    ]);
    assert!(out.contains("192.0.2.7\tdb.local"), "{out}");
    assert!(out.contains("myhost"), "{out}");
    assert!(out.contains("nameserver 192.0.2.53"), "{out}");
    assert!(out.contains("search example.test"), "{out}");
    assert!(out.contains("options ndots:3"), "{out}");
    assert!(out.ends_with("myhost"), "{out}");
    // `none` keeps a loopback-only namespace; host sees the host's links.
    let links = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "ip",
        "-o",
        "link",
    ]);
    assert_eq!(links.lines().count(), 1, "{links}");
    let host = env.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        IMAGE,
        "ip",
        "-o",
        "link",
    ]);
    assert!(host.lines().count() > 1, "{host}");
    assert_eq!(env.inspect_mode_of_new(&["--network", "host"]), "host");
    env.expect(
        &["create", "--network", "none", "-p", "80", IMAGE, "true"],
        125,
    );
}

/// The default network's bridge outlives its containers, as docker0 does:
/// a keeper port (a veth end, down, no address) keeps netavark from
/// rebuilding bridge and chains for every container.
#[test]
fn default_bridge_is_kept_between_containers() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let port = free_port().to_string();
    let publish = format!("127.0.0.1:{port}:80");
    env.ok(&["run", "--rm", "-p", &publish, IMAGE, "true"]);
    let master = std::fs::read_link("/sys/class/net/berth0k/master").expect("keeper port");
    assert!(master.ends_with("berth0"), "{master:?}");
    assert!(host_has_link("berth0"));
    let addr = std::fs::read_to_string("/sys/class/net/berth0k/operstate").unwrap();
    assert_eq!(addr.trim(), "down", "the keeper carries nothing");
    // The next container on it still works and serves its port.
    web_server(&env, "web", "bridge", "warm", Some(port.parse().unwrap()));
    let mut body = None;
    wait_until("httpd on the kept bridge", || {
        body = fetch(port.parse().unwrap());
        body.is_some()
    });
    assert!(body.unwrap().contains("warm"));
    env.ok(&["rm", "-f", "-t", "0", "web"]);
    assert_eq!(netns_files(&env), 0);
    assert_eq!(ipam_rows(&env), 0);
}

#[test]
fn default_bridge_network_and_open_host_ports() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    // `bridge` is the default network `berth` (10.90.0.0/24 on berth0);
    // `-p 127.0.0.1::80` picks a free host port at create time.
    env.ok(&[
        "create",
        "--name",
        "c",
        "--network",
        "bridge",
        "-p",
        "127.0.0.1::80",
        IMAGE,
        "sleep",
        "300",
    ]);
    let port = env.ok(&["port", "c", "80/tcp"]);
    assert!(
        port.starts_with("127.0.0.1:") && !port.ends_with(":0"),
        "{port}"
    );
    env.ok(&["start", "c"]);
    let ip = ip_of(&env, "c", "berth");
    assert!(ip.starts_with("10.90.0."), "{ip}");
    env.ok(&["rm", "-f", "-t", "0", "c"]);
    assert_eq!(netns_files(&env), 0);
    assert_eq!(ipam_rows(&env), 0);
}

#[test]
fn publish_all_uses_the_image_expose_list_and_container_mode_shares_a_namespace() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    // An image that EXPOSEs 80/tcp and 53/udp.
    env.ok(&["create", "--name", "base", IMAGE, "true"]);
    let image = format!("localhost/{}:latest", unique("exposed"));
    env.ok(&["commit", "-c", "EXPOSE 80 53/udp", "base", &image]);
    // Created only: -P publishes on every host address, so nothing starts.
    env.ok(&[
        "create",
        "--name",
        "pub",
        "--network",
        "bridge",
        "-P",
        &image,
        "true",
    ]);
    let ports = env.ok(&["port", "pub"]);
    let lines: Vec<&str> = ports.lines().collect();
    assert_eq!(lines.len(), 2, "{ports}");
    assert!(
        lines.iter().any(|l| l.starts_with("80/tcp -> 0.0.0.0:")),
        "{ports}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("53/udp -> 0.0.0.0:")),
        "{ports}"
    );
    env.ok(&["rm", "pub", "base"]);

    // container:ID joins another container's namespace: same addresses.
    let net = make_net(&env, &[]);
    env.ok(&[
        "run",
        "-d",
        "--name",
        "owner",
        "--network",
        &net.name,
        IMAGE,
        "sleep",
        "300",
    ]);
    let ip = ip_of(&env, "owner", &net.name);
    let addrs = env.ok(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        IMAGE,
        "ip",
        "-o",
        "-4",
        "addr",
    ]);
    assert!(addrs.contains(&ip), "{addrs}");
    env.ok(&["rm", "-f", "-t", "0", "owner"]);
    assert_no_leaks(&env, &net);
}

trait InspectMode {
    fn inspect_mode_of_new(&self, flags: &[&str]) -> String;
}

impl InspectMode for Env {
    /// `HostConfig.NetworkMode` of a new container created with `flags`.
    fn inspect_mode_of_new(&self, flags: &[&str]) -> String {
        let name = unique("mode");
        let mut args = vec!["create", "--name", name.as_str()];
        args.extend_from_slice(flags);
        args.extend([IMAGE, "true"]);
        self.ok(&args);
        let m = self.inspect(&name)["HostConfig"]["NetworkMode"]
            .as_str()
            .unwrap()
            .to_string();
        self.ok(&["rm", &name]);
        m
    }
}

/// A host-only veth pair whose one end parents macvlan networks: nothing
/// behind it leaves this machine. Removed on drop.
struct VethParent(String);

impl VethParent {
    fn new() -> VethParent {
        let name = format!("bmv{}", std::process::id() % 100_000);
        let peer = format!("{name}p");
        let ok = std::process::Command::new("ip")
            .args(["link", "add", &name, "type", "veth", "peer", "name", &peer])
            .status()
            .unwrap()
            .success();
        assert!(ok, "creating veth {name}");
        for l in [&name, &peer] {
            std::process::Command::new("ip")
                .args(["link", "set", l, "up"])
                .status()
                .unwrap();
        }
        VethParent(name)
    }
}

impl Drop for VethParent {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

/// `-d macvlan`: containers on a macvlan network get addresses from its
/// subnet and reach each other through the parent interface (here a
/// host-only veth, so no test traffic can leave the machine).
#[test]
fn macvlan_network_connects_its_containers() {
    if skip() || no_netavark() {
        return;
    }
    let env = Env::with_busybox();
    let parent = VethParent::new();
    let name = unique("mv");
    let prefix = format!("10.97.{}", std::process::id() % 250);
    let subnet = format!("{prefix}.0/24");
    let parent_opt = format!("parent={}", parent.0);
    env.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        &parent_opt,
        "--subnet",
        &subnet,
        &name,
    ]);
    let info = env.berth(&["network", "inspect", &name]).json();
    assert_eq!(info[0]["driver"], "macvlan", "{info}");
    web_server(&env, "web", &name, "over-macvlan", None);
    let ip = ip_of(&env, "web", &name);
    assert!(ip.starts_with(&prefix), "{ip}");
    let get = format!("printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {ip} 80");
    let mut body = String::new();
    wait_until("the macvlan neighbour's httpd to answer", || {
        body = env
            .berth(&["run", "--rm", "--network", &name, IMAGE, "sh", "-c", &get])
            .stdout;
        body.contains("over-macvlan")
    });
    env.ok(&["rm", "-f", "-t", "0", "web"]);
    env.ok(&["network", "rm", &name]);
    assert_eq!(netns_files(&env), 0, "namespace files left");
    assert_eq!(ipam_rows(&env), 0);
}
