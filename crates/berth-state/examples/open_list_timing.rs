//! Measures what one `berth ps` pays for the store: open + list of N rows.
//!
//! `cargo run --release -p berth-state --example open_list_timing [N]`

use berth_state::{SqliteStore, StateStore};
use berth_types::{ContainerConfig, ContainerRecord, Resources, RuntimeState};
use std::time::{Duration, Instant};

fn record(i: usize) -> ContainerRecord {
    ContainerRecord {
        config: ContainerConfig {
            id: format!("{i:08x}{}", "5".repeat(56)),
            name: format!("container-{i}"),
            image_id: "f".repeat(64),
            image_name: "docker.io/library/busybox:latest".into(),
            created: jiff::Timestamp::from_second(1_700_000_000 + i as i64).unwrap(),
            args: vec!["sh".into(), "-c".into(), "sleep infinity".into()],
            entrypoint: vec![],
            command: vec!["sh".into()],
            env: (0..10).map(|k| format!("VAR{k}=value{k}")).collect(),
            workdir: "/".into(),
            user: "0:0".into(),
            hostname: format!("c{i}"),
            read_only: false,
            mounts: vec![],
            resources: Resources::default(),
            stop_signal: 15,
            stop_timeout: 10,
            labels: Default::default(),
            cap_add: vec![],
            cap_drop: vec![],
            privileged: false,
            stdin: false,
            tty: false,
            console_size: None,
            auto_remove: false,
            log_driver: "k8s-file".into(),
            log_max_size: 0,
            log_max_file: 0,
            runtime: "runc".into(),
            healthcheck: None,
            restart_policy: Default::default(),
            net: Default::default(),
            pod: Default::default(),
            requires: vec![],
        },
        state: RuntimeState::default(),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("N"))
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");

    let t = Instant::now();
    let first = SqliteStore::open(&path).unwrap();
    println!("create + migrate new db:  {:?}", t.elapsed());
    let mut adds = Vec::new();
    for i in 0..n {
        let t = Instant::now();
        first.add_container(&record(i)).unwrap();
        adds.push(t.elapsed());
    }
    println!("add_container (median):   {:?}", median(adds));
    drop(first);

    let (mut opens, mut lists, mut both, mut lookups) = (vec![], vec![], vec![], vec![]);
    for _ in 0..20 {
        let t0 = Instant::now();
        let s = SqliteStore::open(&path).unwrap();
        let t1 = Instant::now();
        let all = s.list().unwrap();
        let t2 = Instant::now();
        assert_eq!(all.len(), n);
        s.lookup("0000002").unwrap_err(); // ambiguous prefix, 16 candidates
        s.lookup(&format!("{:08x}", n / 2)).unwrap();
        let t3 = Instant::now();
        opens.push(t1 - t0);
        lists.push(t2 - t1);
        both.push(t2 - t0);
        lookups.push((t3 - t2) / 2);
    }
    println!("open (median of 20):      {:?}", median(opens));
    println!("list {n} (median):        {:?}", median(lists));
    println!("open + list {n} (median): {:?}", median(both));
    println!("lookup prefix (median):   {:?}", median(lookups));
}
