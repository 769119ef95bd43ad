//! Concurrency: parallel `run --rm` (RELIABILITY 21), parallel creates of
//! one name (RELIABILITY 26), and fast exits (RELIABILITY 6).

mod common;

use common::*;
use std::sync::{Arc, Barrier, Mutex};

/// Run `n` copies of `args` at once (released together by a barrier).
fn parallel(env: &Env, n: usize, args: &[&str]) -> Vec<Out> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    env.berth(args)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn parallel_run_rm_all_succeed_and_vanish() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let outs = parallel(&env, 32, &["run", "--rm", IMAGE, "true"]);
    // Collect every problem before failing, so one report shows them all.
    let mut problems = Vec::new();
    let failed: Vec<&Out> = outs.iter().filter(|o| o.code != 0).collect();
    if let Some(first) = failed.first() {
        problems.push(format!(
            "{} of 32 parallel `run --rm true` failed; first:\n{first}",
            failed.len()
        ));
    }
    let ids = env.all_ids();
    if !ids.is_empty() {
        problems.push(format!("ps -a is not empty: {ids:?}"));
    }
    let mounts = env.mounts();
    if !mounts.is_empty() {
        problems.push(format!("mounts remain: {mounts:?}"));
    }
    wait_until("monitors to exit", || env.monitors().is_empty());
    let files = env.container_dirs();
    if !files.is_empty() {
        problems.push(format!(
            "{} per-container files remain: {files:#?}",
            files.len()
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn parallel_create_same_name_one_wins() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let outs = parallel(&env, 10, &["create", "--name", "x", IMAGE, "true"]);
    let won: Vec<&Out> = outs.iter().filter(|o| o.code == 0).collect();
    let lost: Vec<&Out> = outs.iter().filter(|o| o.code != 0).collect();
    assert_eq!(won.len(), 1, "exactly one create must win: {outs:#?}");
    for o in &lost {
        assert_eq!(o.code, 125, "{o}");
        o.stderr_has("already in use");
        assert_eq!(o.err().lines().count(), 1, "{o}");
    }
    let ids = env.all_ids();
    assert_eq!(ids, vec![won[0].out().to_string()]);
    assert_eq!(env.ok(&["ps", "-a", "--format", "{{.Names}}"]), "x");
    // Losers left no files behind: everything there belongs to the winner.
    let winner = &ids[0];
    for p in env.container_dirs() {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let short = name.trim_end_matches(".lock");
        assert!(winner.starts_with(short), "a loser left {}", p.display());
    }
}

/// The fast-exit cases of RELIABILITY 6: (command, expected exit code).
const FAST_EXITS: [(&[&str], i32); 4] = [
    (&["true"], 0),
    (&["false"], 1),
    (&["sh", "-c", "exit 42"], 42),
    // A non-PID-1 shell killing itself with SIGTERM: 128 + 15.
    (&["sh", "-c", "sh -c 'kill -TERM $$'; exit $?"], 143),
];

/// Iterations per case: BERTH_FAST_EXIT_ITERATIONS (the issue asks for
/// 1000; the default keeps CI fast).
fn iterations() -> usize {
    std::env::var("BERTH_FAST_EXIT_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

/// Run case `i` `counts[i]` times (interleaved) on `workers` threads;
/// returns the mismatches (expected code, actual output).
fn fast_exits(env: &Env, counts: [usize; 4], workers: usize, rm: bool) -> Vec<(i32, Out)> {
    let rounds = counts.iter().copied().max().unwrap_or(0);
    let jobs: Vec<usize> = (0..rounds)
        .flat_map(|r| (0..FAST_EXITS.len()).filter(move |&i| r < counts[i]))
        .rev()
        .collect();
    let queue = Arc::new(Mutex::new(jobs));
    let mismatches = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..workers {
            let queue = queue.clone();
            let mismatches = &mismatches;
            s.spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let Some(case) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let (cmd, want) = FAST_EXITS[case];
                    let name = unique(&format!("fe{w}"));
                    let mut args = vec!["run", "--name", &name];
                    if rm {
                        args.push("--rm");
                    }
                    args.push(IMAGE);
                    args.extend_from_slice(cmd);
                    let o = env.berth(&args);
                    if o.code != want {
                        mismatches.lock().unwrap().push((want, o));
                    }
                    if !rm {
                        mine.push(name);
                        if mine.len() >= 25 {
                            let mut rm_args = vec!["rm", "-f"];
                            rm_args.extend(mine.iter().map(String::as_str));
                            env.berth(&rm_args);
                            mine.clear();
                        }
                    }
                }
            });
        }
    });
    mismatches.into_inner().unwrap()
}

fn report(what: &str, total: usize, mismatches: &[(i32, Out)]) -> String {
    let mut s = format!(
        "{what}: {} of {total} runs had the wrong exit code\n",
        mismatches.len()
    );
    let mut by_kind = std::collections::BTreeMap::new();
    for (want, o) in mismatches {
        *by_kind.entry((*want, o.code)).or_insert(0) += 1;
    }
    for ((want, got), n) in by_kind {
        s.push_str(&format!("  expected {want}, got {got}: {n} times\n"));
    }
    for (_, o) in mismatches.iter().take(3) {
        s.push_str(&format!("{o}\n"));
    }
    s
}

#[test]
fn fast_exits_keep_their_codes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let n = iterations();
    // true/false/exit 42 n times each, the (slower) SIGTERM case n/4 times.
    let counts = [n, n, n, n.div_ceil(4)];
    let mismatches = fast_exits(&env, counts, 4, false);
    assert!(
        mismatches.is_empty(),
        "{}",
        report("run (no --rm)", counts.iter().sum(), &mismatches)
    );
}

#[test]
fn fast_exits_keep_their_codes_with_rm() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let n = iterations().div_ceil(8);
    let mismatches = fast_exits(&env, [n; 4], 4, true);
    assert!(
        mismatches.is_empty(),
        "{}",
        report("run --rm", n * FAST_EXITS.len(), &mismatches)
    );
    assert_eq!(
        env.all_ids(),
        Vec::<String>::new(),
        "run --rm left containers"
    );
}
