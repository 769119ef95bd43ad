//! `berth run`: output, exit codes, and the create flags as the container
//! sees them (Podman's 030-run.bats, against real runc).

mod common;

use common::*;

#[test]
fn run_rm_echo_prints_and_leaves_nothing() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["run", "--rm", IMAGE, "echo", "hello"], 0);
    assert_eq!(o.stdout, "hello\n", "{o}");
    assert!(env.all_ids().is_empty(), "--rm left a container");
}

#[test]
fn exit_codes_pass_through() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.expect(&["run", IMAGE, "true"], 0);
    env.expect(&["run", IMAGE, "false"], 1);
    env.expect(&["run", IMAGE, "sh", "-c", "exit 42"], 42);
    // The inner shell is not PID 1, so SIGTERM kills it: 128 + 15. (The
    // trailing `exit $?` stops busybox from exec'ing the inner shell as PID
    // 1, which would ignore the signal: that is the kernel, as in Podman.)
    env.expect(
        &["run", IMAGE, "sh", "-c", "sh -c 'kill -TERM $$'; exit $?"],
        143,
    );
    // PID 1 without a handler ignores SIGTERM.
    env.expect(&["run", IMAGE, "sh", "-c", "kill -TERM $$; exit 7"], 7);
}

#[test]
fn command_errors_are_126_127_125() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["run", "--rm", IMAGE, "no-such-command"], 127);
    o.stderr_has("no-such-command");
    let o = env.expect(&["run", "--rm", IMAGE, "/etc"], 126);
    o.stderr_has("/etc");
    let o = env.expect(
        &["run", "--rm", "localhost/no-such-image:latest", "true"],
        125,
    );
    o.stderr_has("no-such-image");
    assert!(env.all_ids().is_empty(), "failed --rm runs left containers");
}

#[test]
fn run_detached_prints_full_id() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["run", "-d", IMAGE, "sleep", "1000"]);
    assert!(is_full_id(&id), "run -d printed {id:?}");
    assert_eq!(env.inspect(&id)["Id"], id.as_str());
    assert_eq!(env.status(&id), "running");
}

#[test]
fn env_and_env_file() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let file = env.path().join("vars.env");
    std::fs::write(&file, "# comment\nFROM_FILE=file value\nSHARED=from-file\n").unwrap();
    let o = env.expect(
        &[
            "run",
            "-e",
            "FOO=bar",
            "-e",
            "SHARED=from-flag",
            "--env-file",
            file.to_str().unwrap(),
            IMAGE,
            "env",
        ],
        0,
    );
    let lines = o.lines();
    assert!(lines.contains(&"FOO=bar"), "{o}");
    assert!(lines.contains(&"FROM_FILE=file value"), "{o}");
    // Podman: -e wins over --env-file.
    assert!(lines.contains(&"SHARED=from-flag"), "{o}");
    assert!(
        lines.iter().any(|l| l.starts_with("PATH=")),
        "image env lost\n{o}"
    );
}

#[test]
fn workdir() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["run", "-w", "/tmp", IMAGE, "pwd"], 0);
    assert_eq!(o.out(), "/tmp", "{o}");
}

#[test]
fn user_by_id_and_by_name() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(
        &[
            "run",
            "-u",
            "1000:1000",
            IMAGE,
            "sh",
            "-c",
            "echo $(id -u):$(id -g)",
        ],
        0,
    );
    assert_eq!(o.out(), "1000:1000", "{o}");
    let o = env.expect(&["run", "-u", "berthuser", IMAGE, "id"], 0);
    assert!(
        o.out()
            .starts_with("uid=1000(berthuser) gid=1000(berthuser)"),
        "{o}"
    );
    let o = env.expect(&["run", IMAGE, "id", "-u"], 0);
    assert_eq!(o.out(), "0", "{o}");
}

#[test]
fn hostname_and_etc_files() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(
        &[
            "run",
            "--hostname",
            "berthbox",
            IMAGE,
            "sh",
            "-c",
            "hostname; cat /etc/hostname",
        ],
        0,
    );
    assert_eq!(o.lines(), vec!["berthbox", "berthbox"], "{o}");
    let o = env.expect(
        &[
            "run",
            IMAGE,
            "sh",
            "-c",
            "for f in /etc/hosts /etc/hostname /etc/resolv.conf; do test -f $f && echo ok $f; done; \
             grep -c . /etc/hosts; hostname; cat /etc/hostname",
        ],
        0,
    );
    let lines = o.lines();
    for f in ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"] {
        assert!(
            lines.contains(&format!("ok {f}").as_str()),
            "{f} missing\n{o}"
        );
    }
    assert_ne!(lines[3], "0", "/etc/hosts is empty\n{o}");
    assert!(
        !lines[4].is_empty() && lines[4] == lines[5],
        "hostname vs /etc/hostname\n{o}"
    );
}

#[test]
fn read_only_rootfs() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.berth(&["run", "--read-only", IMAGE, "touch", "/newfile"]);
    assert_ne!(o.code, 0, "write to a read-only rootfs succeeded\n{o}");
    o.stderr_has("Read-only file system");
    env.expect(&["run", IMAGE, "touch", "/newfile"], 0);
}

#[test]
fn bind_volumes_rw_and_ro() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let host = env.path().join("vol");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("from-host"), "host data\n").unwrap();
    let spec = format!("{}:/data", host.display());
    let o = env.expect(
        &[
            "run",
            "-v",
            &spec,
            IMAGE,
            "sh",
            "-c",
            "cat /data/from-host; echo ctr > /data/from-ctr",
        ],
        0,
    );
    assert_eq!(o.out(), "host data", "{o}");
    assert_eq!(
        std::fs::read_to_string(host.join("from-ctr")).unwrap(),
        "ctr\n"
    );

    let spec_ro = format!("{}:/data:ro", host.display());
    let o = env.expect(&["run", "-v", &spec_ro, IMAGE, "cat", "/data/from-host"], 0);
    assert_eq!(o.out(), "host data", "{o}");
    let o = env.berth(&["run", "-v", &spec_ro, IMAGE, "touch", "/data/nope"]);
    assert_ne!(o.code, 0, "write to a :ro volume succeeded\n{o}");
    o.stderr_has("Read-only file system");
    assert!(!host.join("nope").exists());
}

#[test]
fn tmpfs_mount() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(
        &[
            "run",
            "--tmpfs",
            "/scratch",
            IMAGE,
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; echo x > /scratch/f && cat /scratch/f",
        ],
        0,
    );
    let lines = o.lines();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("tmpfs /scratch tmpfs")),
        "{o}"
    );
    assert_eq!(lines.last(), Some(&"x"), "{o}");
}

#[test]
fn memory_and_pids_limits_in_cgroup() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let (mem, pids) = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/pids.max")
    } else {
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
        )
    };
    let o = env.expect(&["run", "--memory", "64m", IMAGE, "cat", mem], 0);
    assert_eq!(o.out(), "67108864", "{o}");
    let o = env.expect(&["run", "--pids-limit", "42", IMAGE, "cat", pids], 0);
    assert_eq!(o.out(), "42", "{o}");
    let o = env.expect(&["run", "--pids-limit", "42", IMAGE, "true"], 0);
    assert_eq!(o.out(), "", "{o}");
}

/// CapEff of the container's process, as a bit mask.
fn cap_eff(env: &Env, flags: &[&str]) -> u64 {
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[IMAGE, "grep", "CapEff", "/proc/self/status"]);
    let o = env.expect(&args, 0);
    let hex = o
        .out()
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{o}"));
    u64::from_str_radix(hex, 16).unwrap_or_else(|e| panic!("{e}\n{o}"))
}

fn host_cap_eff() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("CapEff:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn capabilities_drop_add_privileged() {
    if skip() {
        return;
    }
    const CHOWN: u64 = 1 << 0;
    const NET_ADMIN: u64 = 1 << 12;
    const SYS_ADMIN: u64 = 1 << 21;
    let env = Env::with_busybox();
    let default = cap_eff(&env, &[]);
    assert_ne!(default, 0);
    assert_eq!(default & CHOWN, CHOWN, "CHOWN is a default capability");
    assert_eq!(
        default & SYS_ADMIN,
        0,
        "SYS_ADMIN is not a default capability"
    );

    let dropped = cap_eff(&env, &["--cap-drop", "CHOWN"]);
    assert_eq!(dropped, default & !CHOWN);
    let dropped = cap_eff(&env, &["--cap-drop", "cap_chown"]);
    assert_eq!(
        dropped,
        default & !CHOWN,
        "cap_ prefix and case are accepted"
    );
    assert_eq!(cap_eff(&env, &["--cap-drop", "ALL"]), 0);

    let added = cap_eff(&env, &["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN"]);
    assert_eq!(added, default | SYS_ADMIN | NET_ADMIN);
    let only = cap_eff(&env, &["--cap-drop", "ALL", "--cap-add", "CHOWN"]);
    assert_eq!(only, CHOWN);

    let privileged = cap_eff(&env, &["--privileged"]);
    assert_eq!(
        privileged,
        host_cap_eff(),
        "--privileged has every capability"
    );
}

#[test]
fn privileged_unmasks_proc_and_mounts_sys_rw() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // /sys's mount flags, then how many of the masked or read-only /proc
    // paths are mounted over (grep -c exits 1 when there are none).
    let script = "grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
                  grep -c -e ' /proc/keys ' -e ' /proc/sys ' /proc/mounts";
    let o = env.expect(&["run", IMAGE, "sh", "-c", script], 0);
    assert_eq!(
        o.lines(),
        vec!["ro", "2"],
        "default: /sys ro, /proc masked\n{o}"
    );
    let o = env.expect(&["run", "--privileged", IMAGE, "sh", "-c", script], 1);
    assert_eq!(
        o.lines(),
        vec!["rw", "0"],
        "privileged: /sys rw, nothing masked\n{o}"
    );
}

#[test]
fn privileged_sees_host_devices() {
    if skip() {
        return;
    }
    // Podman: "--privileged: all devices from the host are passed to the
    // container". /dev/loop-control or /dev/kmsg exist on every host here.
    let env = Env::with_busybox();
    let host: Vec<&str> = ["/dev/kmsg", "/dev/loop-control", "/dev/mem"]
        .into_iter()
        .filter(|d| std::path::Path::new(d).exists())
        .collect();
    assert!(!host.is_empty());
    let mut args = vec!["run", "--privileged", IMAGE, "ls"];
    args.extend(&host);
    let o = env.berth(&args);
    assert_eq!(
        o.code, 0,
        "--privileged container lacks host devices {host:?}\n{o}"
    );
    let mut args = vec!["run", IMAGE, "ls"];
    args.extend(&host);
    assert_ne!(
        env.berth(&args).code,
        0,
        "unprivileged container has host devices"
    );
}

#[test]
fn labels_in_inspect() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&[
        "create",
        "--label",
        "tier=web",
        "--label",
        "owner=berth test",
        IMAGE,
        "true",
    ]);
    let labels = &env.inspect(&id)["Config"]["Labels"];
    assert_eq!(labels["tier"], "web", "{labels}");
    assert_eq!(labels["owner"], "berth test", "{labels}");
}

#[test]
fn interactive_stdin() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.berth_stdin(&["run", "-i", IMAGE, "cat"], b"hi\n");
    o.success();
    assert_eq!(o.stdout, "hi\n", "{o}");
    let big: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    let o = env.berth_stdin(&["run", "-i", IMAGE, "wc", "-l"], big.as_bytes());
    o.success();
    assert_eq!(o.out(), "2000", "{o}");
    // Without -i the container's stdin is not connected.
    let o = env.berth_stdin(&["run", IMAGE, "cat"], b"hi\n");
    o.success();
    assert_eq!(o.stdout, "", "{o}");
}

#[test]
fn nofile_rlimit_within_host_hard_limit() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let mut host = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut host) },
        0
    );
    let o = env.expect(&["run", IMAGE, "cat", "/proc/self/limits"], 0);
    let line = o
        .lines()
        .into_iter()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no nofile line\n{o}"))
        .to_string();
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "{line}");
    assert!(nums[0] <= nums[1], "{line}");
    assert!(
        nums[1] <= host.rlim_max,
        "container nofile hard {} > host hard {}",
        nums[1],
        host.rlim_max
    );
}

#[test]
fn short_image_name_resolves() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["run", "busybox", "echo", "short"], 0);
    assert_eq!(o.out(), "short", "{o}");
}
