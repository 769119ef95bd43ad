//! Looking at and adjusting a running container: `top` (its processes from
//! its cgroup and /proc, never a binary from the image), `stats` (cgroup v1
//! or v2 counters), `update` (cgroup limits through the runtime, kept in the
//! config) and `wait --condition`.

use super::Container;
use crate::rootfs::read_in_root;
use berth_oci::OciRuntime;
use berth_types::{ContainerRecord, ContainerState, Error, ErrorKind, Op, Resources, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use top::{top_rows, DEFAULT_DESCRIPTORS};

/// `top`'s process table, read from /proc (psgo's descriptors, the ones
/// Podman's `top` accepts, and their ps(1) AIX spellings).
mod top {
    use berth_types::{Error, Result};

    /// Podman's default columns.
    pub const DEFAULT_DESCRIPTORS: [&str; 8] = [
        "user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args",
    ];

    /// (descriptor, AIX form, header).
    const DESCRIPTORS: [(&str, &str, &str); 19] = [
        ("args", "%a", "COMMAND"),
        ("comm", "%c", "COMMAND"),
        ("etime", "%t", "ELAPSED"),
        ("group", "%G", "GROUP"),
        ("gid", "", "GID"),
        ("nice", "%n", "NI"),
        ("pcpu", "%C", "%CPU"),
        ("pgid", "%r", "PGID"),
        ("pid", "%p", "PID"),
        ("ppid", "%P", "PPID"),
        ("rss", "", "RSS"),
        ("state", "", "STATE"),
        ("stime", "", "STIME"),
        ("time", "%x", "TIME"),
        ("tty", "%y", "TTY"),
        ("uid", "", "UID"),
        ("user", "%U", "USER"),
        ("vsz", "%z", "VSZ"),
        ("ruser", "%u", "RUSER"),
    ];

    /// What /proc says about one process.
    struct Proc {
        pid: i32,
        ppid: i32,
        pgid: i32,
        state: String,
        tty: u32,
        nice: i64,
        cpu_ticks: u64,
        start_ticks: u64,
        vsz: u64,
        rss_pages: u64,
        uid: u32,
        ruid: u32,
        gid: u32,
        comm: String,
        args: String,
    }

    fn read_proc(pid: i32) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // comm is in parentheses and may itself contain ") ".
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat[open + 1..close].to_string();
        let f: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let ids = |key: &str| -> Vec<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| {
                    v.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let uids = ids("Uid:");
        let gids = ids("Gid:");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        Some(Proc {
            pid,
            ppid: num(1) as i32,
            pgid: num(2) as i32,
            state: f.first().unwrap_or(&"?").to_string(),
            tty: num(4) as u32,
            nice: num(16),
            cpu_ticks: (num(11) + num(12)) as u64,
            start_ticks: num(19) as u64,
            vsz: num(20) as u64,
            rss_pages: num(21) as u64,
            uid: uids.get(1).copied().unwrap_or(0),
            ruid: uids.first().copied().unwrap_or(0),
            gid: gids.get(1).copied().unwrap_or(0),
            // Kernel threads and zombies have no command line.
            args: if args.is_empty() {
                format!("[{comm}]")
            } else {
                args
            },
            comm,
        })
    }

    /// The name for `id` in a passwd/group file's text, else the number.
    fn name_of(file: &str, id: u32) -> String {
        file.lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(id)).then(|| f[0].to_string())
            })
            .unwrap_or_else(|| id.to_string())
    }

    /// Go's `time.Duration` text (`1m5.5s`, `2h0m0s`), which psgo prints.
    fn go_duration(secs: f64) -> String {
        let secs = (secs * 1000.0).round() / 1000.0;
        if secs < 60.0 {
            return format!("{}s", trim(secs));
        }
        let whole = secs as u64;
        let (h, m) = (whole / 3600, whole / 60 % 60);
        let s = secs - (h * 3600 + m * 60) as f64;
        if h > 0 {
            format!("{h}h{m}m{}s", trim(s))
        } else {
            format!("{m}m{}s", trim(s))
        }
    }

    fn trim(v: f64) -> String {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }

    fn tty_name(nr: u32) -> String {
        if nr == 0 {
            return "?".into();
        }
        let major = (nr >> 8) & 0xfff;
        let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
        match major {
            136..=143 => format!("pts/{}", minor + (major - 136) * 256),
            4 => format!("tty{minor}"),
            _ => "?".into(),
        }
    }

    /// Headers and rows for `descriptors` over `pids`; `passwd` and `group`
    /// are the container's own files (names are the container's, not the
    /// host's).
    pub fn top_rows(
        descriptors: &[String],
        pids: &[i32],
        passwd: &str,
        group: &str,
    ) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let words: Vec<String> = if descriptors.is_empty() {
            DEFAULT_DESCRIPTORS.iter().map(|d| d.to_string()).collect()
        } else {
            // `top ctr pid,user` and `top ctr pid user` both work.
            descriptors
                .iter()
                .flat_map(|d| d.split(',').map(str::to_string).collect::<Vec<_>>())
                .filter(|d| !d.is_empty())
                .collect()
        };
        let mut cols = Vec::new();
        for w in &words {
            let d = DESCRIPTORS
                .iter()
                .find(|(n, aix, _)| n == w || (!aix.is_empty() && aix == w))
                .ok_or_else(|| Error::invalid(format!("unknown descriptor: {w}")))?;
            cols.push(*d);
        }
        let ticks = clock_ticks();
        // SAFETY: sysconf only reads a configuration value.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        let mut rows = Vec::new();
        for p in pids.iter().filter_map(|pid| read_proc(*pid)) {
            let elapsed = (uptime - p.start_ticks as f64 / ticks).max(0.0);
            let cpu = p.cpu_ticks as f64 / ticks;
            let row = cols
                .iter()
                .map(|(name, _, _)| match *name {
                    "args" => p.args.clone(),
                    "comm" => p.comm.clone(),
                    "etime" => go_duration(elapsed),
                    "group" => name_of(group, p.gid),
                    "gid" => p.gid.to_string(),
                    "nice" => p.nice.to_string(),
                    "pcpu" => format!(
                        "{:.3}",
                        if elapsed > 0.0 {
                            cpu / elapsed * 100.0
                        } else {
                            0.0
                        }
                    ),
                    "pgid" => p.pgid.to_string(),
                    "pid" => p.pid.to_string(),
                    "ppid" => p.ppid.to_string(),
                    "rss" => (p.rss_pages * page / 1024).to_string(),
                    "state" => p.state.clone(),
                    "stime" => go_duration(p.start_ticks as f64 / ticks),
                    "time" => go_duration(cpu.floor()),
                    "tty" => tty_name(p.tty),
                    "uid" => p.uid.to_string(),
                    "user" => name_of(passwd, p.uid),
                    "ruser" => name_of(passwd, p.ruid),
                    "vsz" => (p.vsz / 1024).to_string(),
                    _ => String::new(),
                })
                .collect();
            rows.push(row);
        }
        Ok((cols.iter().map(|(_, _, h)| h.to_string()).collect(), rows))
    }

    fn clock_ticks() -> f64 {
        // SAFETY: sysconf only reads a configuration value.
        let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t > 0 {
            t as f64
        } else {
            100.0
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn own_process_row() {
            let me = std::process::id() as i32;
            let (h, rows) = top_rows(&[], &[me], "root:x:0:0::/root:/bin/sh\n", "").unwrap();
            assert_eq!(
                h,
                ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
            );
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0][1], me.to_string());
            let (h, _) = top_rows(&["pid,%U".into(), "comm".into()], &[me], "", "").unwrap();
            assert_eq!(h, ["PID", "USER", "COMMAND"]);
            assert!(top_rows(&["bogus".into()], &[me], "", "").is_err());
        }

        #[test]
        fn durations_like_go() {
            assert_eq!(go_duration(3.5), "3.5s");
            assert_eq!(go_duration(65.0), "1m5s");
            assert_eq!(go_duration(7200.0), "2h0m0s");
            assert_eq!(go_duration(0.0), "0s");
        }
    }
}

/// The cgroup of a container as berth's spec places it (`/berth/<ID>`),
/// and which hierarchy layout the host has.
#[derive(Debug, Clone)]
pub(crate) struct Cgroup {
    id: String,
    v2: bool,
}

/// The cgroup filesystem mount point.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

impl Cgroup {
    fn of(id: &str) -> Self {
        let v2 = rustix::fs::statfs(CGROUP_ROOT)
            .map(|s| s.f_type == 0x6367_7270)
            .unwrap_or(false);
        Cgroup {
            id: id.to_string(),
            v2,
        }
    }

    /// The directory of `controller` (v1) or the unified directory (v2).
    fn dir(&self, controller: &str) -> PathBuf {
        let root = Path::new(CGROUP_ROOT);
        if self.v2 {
            return root.join("berth").join(&self.id);
        }
        // cpuacct is co-mounted with cpu on most hosts.
        let ctrl = if controller == "cpuacct" && !root.join("cpuacct").is_dir() {
            "cpu,cpuacct"
        } else {
            controller
        };
        root.join(ctrl).join("berth").join(&self.id)
    }

    fn read(&self, controller: &str, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir(controller).join(file)).ok()
    }

    fn read_u64(&self, controller: &str, file: &str) -> Option<u64> {
        self.read(controller, file)?.trim().parse().ok()
    }

    /// PIDs of every process in the container (thread-group leaders).
    pub(crate) fn pids(&self) -> Result<Vec<i32>> {
        let path = self.dir("pids").join("cgroup.procs");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let mut pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        pids.sort_unstable();
        Ok(pids)
    }
}

/// One resource-usage sample of a container (`berth stats`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Full container ID.
    pub id: String,
    /// Container name.
    pub name: String,
    /// CPU time used, in nanoseconds.
    pub cpu_nanos: u64,
    /// CPU use since the container started, in percent of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, in bytes (inactive file cache excluded, as Docker and
    /// Podman count it).
    pub mem_usage: u64,
    /// Memory limit in bytes (the host's memory when unlimited).
    pub mem_limit: u64,
    /// `mem_usage` in percent of `mem_limit`.
    pub mem_percent: f64,
    /// Bytes read from block devices.
    pub block_read: u64,
    /// Bytes written to block devices.
    pub block_write: u64,
    /// Number of processes.
    pub pids: u64,
    /// Seconds since the container started.
    pub uptime_secs: f64,
}

/// New cgroup limits (`berth update`); `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceUpdate {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// CPU quota in CPUs.
    pub cpus: Option<f64>,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
}

/// The states `wait --condition WORD` accepts, Podman's words.
pub fn parse_condition(word: &str) -> Result<Vec<ContainerState>> {
    use ContainerState::*;
    Ok(match word {
        // berth records a stopped container as exited (ARCHITECTURE.md).
        "exited" | "stopped" => vec![Exited, Stopped],
        "running" => vec![Running],
        "created" | "configured" => vec![Created, Configured],
        "paused" => vec![Paused],
        "stopping" => vec![Stopping],
        "removing" => vec![Removing],
        _ => {
            return Err(Error::invalid(format!(
                "invalid condition {word:?}: must be one of configured, created, exited, \
                 paused, running, stopped, stopping"
            )))
        }
    })
}

impl<'r> Container<'r> {
    /// The container's processes as `(headers, rows)` for `descriptors`
    /// (Podman's `top` descriptors; empty means [`DEFAULT_DESCRIPTORS`]).
    pub fn top(&self, descriptors: &[String]) -> Result<(Vec<String>, Vec<Vec<String>>)> {
        let rec = {
            let c = self.lock()?;
            c.check(Op::Top)?;
            c.record().clone()
        };
        let pids = Cgroup::of(&rec.config.id).pids()?;
        let passwd = rootfs_file(&rec, "/etc/passwd");
        let group = rootfs_file(&rec, "/etc/group");
        top_rows(descriptors, &pids, &passwd, &group)
    }

    /// One sample of the container's resource use.
    pub fn stats(&self) -> Result<Stats> {
        let rec = {
            let c = self.lock()?;
            c.check(Op::Stats)?;
            c.record().clone()
        };
        Ok(sample(&rec))
    }

    /// Change cgroup limits: at once through the runtime when the container
    /// runs, and in its configuration so the next start keeps them.
    pub fn update_resources(&self, u: &ResourceUpdate) -> Result<()> {
        validate_update(u)?;
        let c = self.lock()?;
        c.check(Op::Update)?;
        let rec = c.record();
        let mut cfg = rec.config.clone();
        apply_update(&mut cfg.resources, u);
        if rec.state.state.is_active() {
            runtime_update(self.rt, rec, u)?;
        }
        self.rt.store.save_config(&self.id, &cfg)
    }

    /// Change the restart policy (`update --restart`; Podman's syntax,
    /// e.g. `on-failure:3`); it applies from the next exit on.
    pub fn set_restart_policy(&self, policy: &str) -> Result<()> {
        let policy = berth_types::RestartPolicy::parse(policy)?;
        let c = self.lock()?;
        c.check(Op::Update)?;
        let mut cfg = c.record().config.clone();
        cfg.restart_policy = policy;
        self.rt.store.save_config(&self.id, &cfg)
    }

    /// Block until the container is in one of `states` (polling every
    /// `interval`). Returns the exit code when the condition is an exit,
    /// else -1 (what Podman prints).
    pub fn wait_for_condition(&self, states: &[ContainerState], interval: Duration) -> Result<i32> {
        let wants_exit = states.contains(&ContainerState::Exited);
        if wants_exit && states.iter().all(|s| !s.is_active()) {
            // The exit has its own efficient wait (pidfd, exit file).
            // Only for a run in progress: a container never started has no
            // exit to wait for yet, so it is polled until it has one
            // (Podman blocks there too).
            let rec = self.inspect_record();
            let in_run = |r: &ContainerRecord| {
                r.state.state.is_active() || r.state.state == ContainerState::Created
            };
            if matches!(&rec, Ok(r) if !states.contains(&r.state.state) && in_run(r)) {
                return self.wait_for_exit();
            }
        }
        loop {
            let rec = match self.inspect_record() {
                Ok(rec) => rec,
                Err(e) if e.kind == ErrorKind::NoSuchContainer && wants_exit => {
                    return self.rt.store.removed_exit_code(&self.id)?.ok_or(e);
                }
                Err(e) => return Err(e),
            };
            if states.contains(&rec.state.state) {
                return Ok(match rec.state.state {
                    ContainerState::Exited | ContainerState::Stopped => {
                        rec.state.exit_code.unwrap_or(0)
                    }
                    _ => -1,
                });
            }
            std::thread::sleep(interval);
        }
    }
}

/// A file of the container's rootfs (for user and group names), empty when
/// unreadable.
fn rootfs_file(rec: &ContainerRecord, path: &str) -> String {
    rec.state
        .mountpoint
        .as_deref()
        .and_then(|m| read_in_root(Path::new(m), path).ok().flatten())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn validate_update(u: &ResourceUpdate) -> Result<()> {
    if u.memory.is_none() && u.cpus.is_none() && u.pids_limit.is_none() {
        return Err(Error::invalid(
            "nothing to update: give --memory, --cpus or --pids-limit",
        ));
    }
    if u.memory.is_some_and(|m| m < 6 * 1024 * 1024) {
        return Err(Error::invalid(
            "minimum memory limit allowed is 6MB".to_string(),
        ));
    }
    if u.cpus.is_some_and(|c| !(c > 0.0 && c.is_finite())) {
        return Err(Error::invalid("--cpus must be a positive number"));
    }
    Ok(())
}

fn apply_update(r: &mut Resources, u: &ResourceUpdate) {
    if let Some(m) = u.memory {
        r.memory = Some(m);
    }
    if let Some(c) = u.cpus {
        r.cpus = Some(c);
    }
    if let Some(p) = u.pids_limit {
        // 0 and -1 mean unlimited, as in Podman.
        r.pids_limit = (p > 0).then_some(p);
    }
}

/// CFS period berth's spec uses (`spec.rs`), so `--cpus` means the same.
const CPU_PERIOD: u64 = 100_000;

/// `runtime update` with the changed limits only.
fn runtime_update(rt: &crate::Runtime, rec: &ContainerRecord, u: &ResourceUpdate) -> Result<()> {
    let oci = rt.oci_for(&rec.config.runtime);
    let mut args: Vec<String> = vec!["update".into()];
    if let Some(m) = u.memory {
        args.extend(["--memory".into(), m.to_string()]);
    }
    if let Some(c) = u.cpus {
        let quota = (c * CPU_PERIOD as f64) as i64;
        args.extend([
            "--cpu-period".into(),
            CPU_PERIOD.to_string(),
            "--cpu-quota".into(),
            quota.to_string(),
        ]);
    }
    if let Some(p) = u.pids_limit {
        let p = if p > 0 { p } else { -1 };
        args.extend(["--pids-limit".into(), p.to_string()]);
    }
    args.push(rec.config.id.clone());
    let out = std::process::Command::new(oci.path())
        .arg("--root")
        .arg(oci.state_root())
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("running {}", oci.path().display()), e))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(Error::new(
        ErrorKind::Runtime,
        format!(
            "{} update of container {}: {text}",
            oci.name(),
            rec.config.name
        ),
    )
    .with_subject(rec.config.name.clone()))
}

/// Read every counter of one sample.
fn sample(rec: &ContainerRecord) -> Stats {
    let cg = Cgroup::of(&rec.config.id);
    let uptime = rec
        .state
        .started_at
        .map(|t| jiff::Timestamp::now().duration_since(t).as_secs_f64())
        .unwrap_or(0.0)
        .max(1e-3);
    let (cpu_nanos, mem_usage, limit, (block_read, block_write), pids);
    if cg.v2 {
        cpu_nanos = cg
            .read("cpu", "cpu.stat")
            .and_then(|t| field(&t, "usage_usec"))
            .unwrap_or(0)
            * 1000;
        let inactive = cg
            .read("memory", "memory.stat")
            .and_then(|t| field(&t, "inactive_file"))
            .unwrap_or(0);
        mem_usage = cg
            .read_u64("memory", "memory.current")
            .unwrap_or(0)
            .saturating_sub(inactive);
        limit = cg.read_u64("memory", "memory.max");
        (block_read, block_write) = block_read_write_v2(&cg);
        pids = cg.read_u64("pids", "pids.current").unwrap_or(0);
    } else {
        cpu_nanos = cg.read_u64("cpuacct", "cpuacct.usage").unwrap_or(0);
        let inactive = cg
            .read("memory", "memory.stat")
            .and_then(|t| field(&t, "total_inactive_file"))
            .unwrap_or(0);
        mem_usage = cg
            .read_u64("memory", "memory.usage_in_bytes")
            .unwrap_or(0)
            .saturating_sub(inactive);
        limit = cg.read_u64("memory", "memory.limit_in_bytes");
        (block_read, block_write) = block_read_write_v1(&cg);
        pids = cg.read_u64("pids", "pids.current").unwrap_or(0);
    }
    let host = host_memory();
    // v1 reports "unlimited" as a huge page-aligned number, v2 as "max".
    let mem_limit = limit.filter(|l| *l < host).unwrap_or(host);
    Stats {
        id: rec.config.id.clone(),
        name: rec.config.name.clone(),
        cpu_nanos,
        cpu_percent: cpu_nanos as f64 / 1e9 / uptime * 100.0,
        mem_usage,
        mem_limit,
        mem_percent: if mem_limit > 0 {
            mem_usage as f64 / mem_limit as f64 * 100.0
        } else {
            0.0
        },
        block_read,
        block_write,
        pids,
        uptime_secs: uptime,
    }
}

/// `KEY value` from a flat-keyed cgroup file.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn block_read_write_v1(cg: &Cgroup) -> (u64, u64) {
    let text = cg
        .read("blkio", "blkio.throttle.io_service_bytes_recursive")
        .or_else(|| cg.read("blkio", "blkio.throttle.io_service_bytes"))
        .unwrap_or_default();
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_, op, n] = f.as_slice() {
            let n: u64 = n.parse().unwrap_or(0);
            match *op {
                "Read" => r += n,
                "Write" => w += n,
                _ => {}
            }
        }
    }
    (r, w)
}

fn block_read_write_v2(cg: &Cgroup) -> (u64, u64) {
    let text = cg.read("io", "io.stat").unwrap_or_default();
    let (mut r, mut w) = (0, 0);
    for kv in text.split_whitespace() {
        if let Some(n) = kv.strip_prefix("rbytes=") {
            r += n.parse::<u64>().unwrap_or(0);
        } else if let Some(n) = kv.strip_prefix("wbytes=") {
            w += n.parse::<u64>().unwrap_or(0);
        }
    }
    (r, w)
}

/// The host's memory in bytes (`MemTotal`).
fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        assert_eq!(
            parse_condition("stopped").unwrap(),
            vec![ContainerState::Exited, ContainerState::Stopped]
        );
        assert_eq!(
            parse_condition("running").unwrap(),
            vec![ContainerState::Running]
        );
        assert!(parse_condition("bogus").is_err());
    }

    #[test]
    fn updates_merge_and_validate() {
        let mut r = Resources {
            memory: Some(1 << 30),
            cpus: None,
            pids_limit: Some(10),
        };
        let u = ResourceUpdate {
            cpus: Some(0.5),
            pids_limit: Some(0),
            ..Default::default()
        };
        apply_update(&mut r, &u);
        assert_eq!(r.memory, Some(1 << 30));
        assert_eq!(r.cpus, Some(0.5));
        assert_eq!(r.pids_limit, None);
        assert!(validate_update(&ResourceUpdate::default()).is_err());
        assert!(validate_update(&ResourceUpdate {
            memory: Some(1024),
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn cgroup_fields() {
        assert_eq!(field("a 1\nusage_usec 42\n", "usage_usec"), Some(42));
        assert_eq!(field("usage_usecs 4\n", "usage_usec"), None);
    }
}
