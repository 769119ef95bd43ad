//! `top`, `stats`, `update`, `wait --condition` and `port`.

use crate::format::{align, print_json, render_template, OutputFormat};
use crate::report::{fail, fail_any, Exit, Outcome};
use berth_core::container::observe::{parse_condition, ResourceUpdate, Stats};
use berth_core::{Container, Runtime};
use clap::Args;
use std::time::Duration;

/// `berth top CONTAINER [DESCRIPTORS...]`.
#[derive(Args, Debug)]
pub struct TopArgs {
    /// Use the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container (unless --latest), then ps descriptors (`pid user args`).
    #[arg(allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// `berth stats [--no-stream] [--format F] [CONTAINER...]`.
#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print one sample and exit.
    #[arg(long)]
    pub no_stream: bool,
    /// `json` or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Every running container (the default without names).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Use the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Seconds between samples when streaming.
    #[arg(short = 'i', long, default_value_t = 5)]
    pub interval: u64,
    /// Containers.
    pub containers: Vec<String>,
}

/// `berth update [--memory M] [--cpus N] [--pids-limit N] CONTAINER`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit (`512m`, `1g`).
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Number of CPUs (`1.5`).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Maximum number of processes (0 or -1: unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Use the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container.
    pub container: Option<String>,
}

/// `berth wait [--condition C]... CONTAINER...`.
#[derive(Args, Debug)]
pub struct WaitArgs {
    /// State to wait for (exited, stopped, running, created, paused...).
    #[arg(long)]
    pub condition: Vec<String>,
    /// Polling interval for conditions other than exited (`250ms`, `1s`).
    #[arg(short = 'i', long, default_value = "250ms")]
    pub interval: String,
    /// Ignore containers that do not exist.
    #[arg(long)]
    pub ignore: bool,
    /// Use the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Containers.
    pub containers: Vec<String>,
}

/// `berth port [CONTAINER]`.
#[derive(Args, Debug)]
pub struct PortArgs {
    /// Every container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Use the latest container berth created.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// The container, then optionally PORT[/PROTO].
    pub words: Vec<String>,
}

fn target<'r>(
    rt: &'r Runtime,
    latest: bool,
    name: Option<&String>,
) -> berth_core::Result<Container<'r>> {
    match (latest, name) {
        (true, _) => rt.latest(),
        (false, Some(n)) => rt.lookup(n),
        (false, None) => Err(berth_core::Error::invalid(
            "you must provide a container name or ID",
        )),
    }
}

/// Print the container's processes.
pub fn top(rt: &Runtime, a: &TopArgs) -> Exit {
    let (name, descriptors) = if a.latest {
        (None, &a.words[..])
    } else {
        (a.words.first(), a.words.get(1..).unwrap_or(&[]))
    };
    let r = target(rt, a.latest, name).and_then(|c| c.top(descriptors));
    match r {
        Ok((headers, rows)) => {
            let mut text = headers.join("\t");
            text.push('\n');
            for row in rows {
                text.push_str(&row.join("\t"));
                text.push('\n');
            }
            print!("{}", align(&text));
            0
        }
        Err(e) => fail(&e),
    }
}

/// go-units `HumanSizeWithPrecision(v, 3)`, as `podman stats` prints.
fn size3(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

/// One stats row with Podman's template field names.
fn stats_row(s: &Stats) -> serde_json::Value {
    let cpu_time = Duration::from_nanos(s.cpu_nanos);
    serde_json::json!({
        "ID": &s.id[..12],
        "Name": s.name,
        "CPUPerc": format!("{:.2}%", s.cpu_percent),
        "AVGCPU": format!("{:.2}%", s.cpu_percent),
        "MemUsage": format!("{} / {}", size3(s.mem_usage), size3(s.mem_limit)),
        "MemUsageBytes": format!("{} / {}", s.mem_usage, s.mem_limit),
        "MemPerc": format!("{:.2}%", s.mem_percent),
        "NetIO": "-- / --",
        "BlockIO": format!("{} / {}", size3(s.block_read), size3(s.block_write)),
        "PIDS": s.pids.to_string(),
        "CPU": format!("{:?}", cpu_time),
        "UpTime": format!("{:?}", Duration::from_secs_f64(s.uptime_secs)),
    })
}

/// Podman's `stats --format json` object (lowercase keys).
fn stats_json(s: &Stats) -> serde_json::Value {
    let r = stats_row(s);
    serde_json::json!({
        "id": r["ID"], "name": r["Name"], "cpu_time": r["CPU"],
        "cpu_percent": r["CPUPerc"], "avg_cpu": r["AVGCPU"],
        "mem_usage": r["MemUsage"], "mem_percent": r["MemPerc"],
        "net_io": r["NetIO"], "block_io": r["BlockIO"], "pids": r["PIDS"],
    })
}

const STATS_HEADERS: [(&str, &str); 10] = [
    ("ID", "ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET IO"),
    ("BlockIO", "BLOCK IO"),
    ("PIDS", "PIDS"),
    ("CPU", "CPU TIME"),
    ("AVGCPU", "AVG CPU %"),
];

fn print_stats(format: &OutputFormat, samples: &[Stats]) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => print_json(&samples.iter().map(stats_json).collect::<Vec<_>>()),
        OutputFormat::Template { source, table } => {
            let rows: Vec<_> = samples.iter().map(stats_row).collect();
            print!(
                "{}",
                render_template(source, *table, &STATS_HEADERS, &rows)?
            );
            Ok(())
        }
        OutputFormat::Table => {
            let mut text = STATS_HEADERS.map(|(_, h)| h).join("\t");
            text.push('\n');
            for s in samples {
                let r = stats_row(s);
                let cells: Vec<&str> = STATS_HEADERS
                    .iter()
                    .map(|(k, _)| r[*k].as_str().unwrap_or(""))
                    .collect();
                text.push_str(&cells.join("\t"));
                text.push('\n');
            }
            print!("{}", align(&text));
            Ok(())
        }
    }
}

/// Print resource use once (`--no-stream`) or every `--interval`.
pub fn stats(rt: &Runtime, a: &StatsArgs) -> Exit {
    let format = OutputFormat::parse(a.format.as_deref());
    loop {
        let mut outcome = Outcome::default();
        let targets: Vec<berth_core::Result<Container>> = if a.latest {
            vec![rt.latest()]
        } else if a.containers.is_empty() || a.all {
            match rt.containers() {
                Ok(list) => list
                    .into_iter()
                    .filter(|r| r.state.state == berth_core::ContainerState::Running)
                    .map(|r| rt.lookup(&r.config.id))
                    .collect(),
                Err(e) => return fail(&e),
            }
        } else {
            a.containers.iter().map(|n| rt.lookup(n)).collect()
        };
        let mut samples = Vec::new();
        for t in targets {
            match t.and_then(|c| c.stats()) {
                Ok(s) => samples.push(s),
                Err(e) => outcome.error(&e),
            }
        }
        if let Err(e) = print_stats(&format, &samples) {
            return fail_any(&e);
        }
        if a.no_stream || outcome.exit(false) != 0 {
            return outcome.exit(false);
        }
        std::thread::sleep(Duration::from_secs(a.interval.max(1)));
    }
}

/// Change a container's cgroup limits.
pub fn update(rt: &Runtime, a: &UpdateArgs) -> Exit {
    let memory = match a.memory.as_deref().map(berth_core::units::parse_bytes) {
        Some(Err(e)) => return fail(&e),
        Some(Ok(m)) => Some(m),
        None => None,
    };
    let u = ResourceUpdate {
        memory,
        cpus: a.cpus,
        pids_limit: a.pids_limit,
    };
    match target(rt, a.latest, a.container.as_ref()).and_then(|c| {
        c.update_resources(&u)?;
        Ok(c.id().to_string())
    }) {
        Ok(id) => {
            println!("{id}");
            0
        }
        Err(e) => fail(&e),
    }
}

/// A Go duration (`250ms`, `1s`) or plain milliseconds.
fn parse_interval(s: &str) -> Option<Duration> {
    if let Ok(ms) = s.parse::<u64>() {
        return Some(Duration::from_millis(ms));
    }
    let d: jiff::SignedDuration = s.parse().ok()?;
    Duration::try_from(d).ok()
}

/// Wait for each container to reach a condition (default: exited) and
/// print its exit code (-1 for conditions that are not an exit).
pub fn wait(rt: &Runtime, a: &WaitArgs) -> Exit {
    let Some(interval) = parse_interval(&a.interval) else {
        eprintln!("Error: invalid interval {:?}", a.interval);
        return 125;
    };
    let words: Vec<&str> = if a.condition.is_empty() {
        vec!["stopped"]
    } else {
        a.condition.iter().map(String::as_str).collect()
    };
    let mut states = Vec::new();
    for w in words {
        match parse_condition(w) {
            Ok(s) => states.extend(s),
            Err(e) => return fail(&e),
        }
    }
    if a.containers.is_empty() && !a.latest {
        eprintln!("Error: you must provide at least one container name or ID");
        return 125;
    }
    let targets: Vec<_> = if a.latest {
        vec![rt.latest()]
    } else {
        a.containers.iter().map(|n| rt.lookup(n)).collect()
    };
    let mut outcome = Outcome::default();
    for t in targets {
        match t.and_then(|c| c.wait_for_condition(&states, interval)) {
            Ok(code) => println!("{code}"),
            Err(e) if a.ignore && e.kind == berth_core::ErrorKind::NoSuchContainer => {
                println!("-1")
            }
            Err(e) => outcome.error(&e),
        }
    }
    outcome.exit(false)
}

/// Podman's `port`: `80/tcp -> 127.0.0.1:8080` per published port; with
/// a `PORT[/PROTO]` filter just `HOSTIP:HOSTPORT`; `-a` lists every
/// container with published ports under its short ID.
pub fn port(rt: &Runtime, a: &PortArgs) -> Exit {
    let (records, filter) = if a.all {
        match rt.containers() {
            Ok(r) => (r, a.words.first()),
            Err(e) => return fail(&e),
        }
    } else {
        match target(rt, a.latest, a.words.first()).and_then(|c| c.inspect_record()) {
            Ok(r) => (vec![r], a.words.get(if a.latest { 0 } else { 1 })),
            Err(e) => return fail(&e),
        }
    };
    let filter = filter.map(|f| {
        let (p, proto) = f.split_once('/').unwrap_or((f, "tcp"));
        (p.parse::<u16>().unwrap_or(0), proto.to_string())
    });
    let mut matched = false;
    for rec in &records {
        let ports = &rec.config.net.ports;
        if ports.is_empty() {
            continue;
        }
        if a.all {
            println!("{}", &rec.config.id[..12]);
        }
        for m in ports {
            let ip = if m.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &m.host_ip
            };
            for i in 0..m.range {
                let (cp, hp) = (m.container_port + i, m.host_port + i);
                match &filter {
                    Some((p, proto)) if *p == cp && *proto == m.protocol => {
                        println!("{ip}:{hp}");
                        matched = true;
                    }
                    Some(_) => {}
                    None => println!("{cp}/{} -> {ip}:{hp}", m.protocol),
                }
            }
        }
        if a.all {
            println!();
        }
    }
    if let (Some((p, proto)), false) = (&filter, matched) {
        if !a.all {
            eprintln!("Error: failed to find published port \"{p}/{proto}\"");
            return 125;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_podman_stats() {
        assert_eq!(size3(0), "0B");
        assert_eq!(size3(1_234_567), "1.23MB");
        assert_eq!(size3(2_080_000_000), "2.08GB");
        assert_eq!(size3(123_456), "123kB");
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_interval("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_interval("100"), Some(Duration::from_millis(100)));
        assert_eq!(parse_interval("x"), None);
    }
}
