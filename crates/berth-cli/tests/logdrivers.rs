//! Log drivers and rotation by berth-mon (RELIABILITY.md 15, scaled down:
//! 5 MB instead of 50 MB).

mod common;

use common::*;

#[test]
fn rotation_keeps_at_most_max_file_files_of_whole_lines() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // 5 MB of numbered lines (about 100 bytes each).
    let script = "i=0; while [ $i -lt 50000 ]; do printf '%08d %090d\\n' $i 0; i=$((i+1)); done";
    env.ok(&[
        "run",
        "--name",
        "big",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=3",
        IMAGE,
        "sh",
        "-c",
        script,
    ]);
    let id = env.inspect("big")["Id"].as_str().unwrap().to_string();
    let dir = env.root.join("containers").join(&id).join("userdata");
    let logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("ctr.log"))
        .collect();
    assert!(
        !logs.is_empty() && logs.len() <= 3,
        "{} log files",
        logs.len()
    );
    for l in &logs {
        let len = l.metadata().unwrap().len();
        assert!(len <= (1 << 20) + 300, "{:?} is {len} bytes", l.path());
        let text = std::fs::read_to_string(l.path()).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "partial record in {:?}",
            l.path()
        );
    }
    // The newest lines, in order, end with the last one written.
    let out = env.ok(&["logs", "--tail", "3", "big"]);
    let nums: Vec<&str> = out.lines().map(|l| &l[..8]).collect();
    assert_eq!(nums, ["00049997", "00049998", "00049999"]);
    let all = env.ok(&["logs", "big"]);
    let first: u32 = all.lines().next().unwrap()[..8].parse().unwrap();
    let count = all.lines().count() as u32;
    assert_eq!(first + count, 50000, "lines missing or out of order");
}

#[test]
fn json_file_and_none_drivers() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&[
        "run",
        "--name",
        "j",
        "--log-driver",
        "json-file",
        IMAGE,
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    let o = env.berth(&["logs", "j"]);
    assert_eq!(o.stdout.trim(), "out");
    assert_eq!(o.stderr.trim(), "err");
    let id = env.inspect("j")["Id"].as_str().unwrap().to_string();
    let raw = std::fs::read_to_string(
        env.root
            .join("containers")
            .join(&id)
            .join("userdata/ctr.log"),
    )
    .unwrap();
    assert!(raw.contains("\"stream\":\"stdout\""), "{raw}");
    env.ok(&[
        "run",
        "--name",
        "n",
        "--log-driver",
        "none",
        IMAGE,
        "echo",
        "gone",
    ]);
    assert!(!env.berth(&["logs", "n"]).stdout.contains("gone"));
    env.expect(&["run", "--log-driver", "syslog-ish", IMAGE, "true"], 125);
}
