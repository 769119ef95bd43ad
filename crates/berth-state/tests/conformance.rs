//! The one behaviour suite every `StateStore` must pass (like Podman's
//! `runForAllStates`). Each case is a plain function over `&dyn StateStore`;
//! the macro at the bottom instantiates every case for every store, so a
//! failure names both the case and the store.

mod common;

use berth_state::{MemStore, SqliteStore, StateStore};
use berth_types::exec::{ExecSession, ExecState};
use berth_types::{ContainerState, ErrorKind, RuntimeState};
use common::{id, record, record_with_image};
use jiff::Timestamp;

fn names(s: &dyn StateStore) -> Vec<String> {
    s.list()
        .unwrap()
        .into_iter()
        .map(|r| r.config.name)
        .collect()
}

fn add_get_list_order(s: &dyn StateStore) {
    assert!(s.list().unwrap().is_empty());
    // Inserted out of creation order; two share a creation time.
    let c = record("cc", "c", 30);
    let a = record("aa", "a", 10);
    let b1 = record("b1", "b1", 20);
    let b2 = record("b2", "b2", 20);
    for r in [&c, &a, &b2, &b1] {
        s.add_container(r).unwrap();
    }
    assert_eq!(s.get(&id("aa")).unwrap(), a);
    assert_eq!(s.get(&id("cc")).unwrap(), c);
    // Creation time first, insertion order on ties.
    assert_eq!(names(s), ["a", "b2", "b1", "c"]);
    assert_eq!(s.list().unwrap()[0], a);
}

fn get_unknown(s: &dyn StateStore) {
    let err = s.get(&id("dead")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoSuchContainer);
}

fn invalid_records_are_refused(s: &dyn StateStore) {
    let mut r = record("aa", "a", 0);
    r.config.id = "AA".repeat(32);
    assert_eq!(
        s.add_container(&r).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    let r = record("aa", "bad/name", 0);
    assert_eq!(
        s.add_container(&r).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    assert!(s.list().unwrap().is_empty());
}

fn name_uniqueness(s: &dyn StateStore) {
    s.add_container(&record("aa", "web", 0)).unwrap();
    let err = s.add_container(&record("bb", "web", 1)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NameInUse);
    assert_eq!(
        err.message,
        format!(
            "the container name \"web\" is already in use by {}. You have to remove that \
             container to be able to reuse that name: that name is already in use",
            id("aa")
        )
    );
    assert!(!err.message.contains('\n'));
    assert_eq!(names(s), ["web"]);
}

fn id_collision_is_internal(s: &dyn StateStore) {
    s.add_container(&record("aa", "one", 0)).unwrap();
    let err = s.add_container(&record("aa", "two", 1)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Internal);
    assert_eq!(names(s), ["one"]);
}

fn name_free_after_rename_and_remove(s: &dyn StateStore) {
    s.add_container(&record("aa", "web", 0)).unwrap();
    s.rename(&id("aa"), "web2").unwrap();
    assert_eq!(s.get(&id("aa")).unwrap().config.name, "web2");
    assert_eq!(s.lookup("web2").unwrap(), id("aa"));
    assert_eq!(
        s.lookup("web").unwrap_err().kind,
        ErrorKind::NoSuchContainer
    );
    // The old name is free, the new one taken.
    s.add_container(&record("bb", "web", 1)).unwrap();
    let err = s.add_container(&record("cc", "web2", 2)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NameInUse);
    // Removing frees the name at once.
    s.remove(&id("bb")).unwrap();
    s.add_container(&record("cc", "web", 2)).unwrap();
    assert_eq!(s.lookup("web").unwrap(), id("cc"));
}

fn rename_to_taken_name_changes_nothing(s: &dyn StateStore) {
    s.add_container(&record("aa", "a", 0)).unwrap();
    s.add_container(&record("bb", "b", 1)).unwrap();
    let before = s.list().unwrap();
    let err = s.rename(&id("aa"), "b").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NameInUse);
    assert!(err.message.contains(&id("bb")), "{}", err.message);
    assert_eq!(s.list().unwrap(), before);
    // Renaming to its own name is a no-op; bad names and unknown IDs fail.
    s.rename(&id("aa"), "a").unwrap();
    assert_eq!(s.list().unwrap(), before);
    let err = s.rename(&id("aa"), "no/slash").unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    let err = s.rename(&id("cc"), "c").unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoSuchContainer);
    assert_eq!(s.list().unwrap(), before);
}

fn lookup_rules(s: &dyn StateStore) {
    s.add_container(&record("ab12", "web", 0)).unwrap();
    s.add_container(&record("ab34", "db", 1)).unwrap();
    s.add_container(&record("cd", "cache", 2)).unwrap();
    // By name, full ID, unique prefix (short ID too).
    assert_eq!(s.lookup("web").unwrap(), id("ab12"));
    assert_eq!(s.lookup(&id("ab34")).unwrap(), id("ab34"));
    assert_eq!(s.lookup("ab1").unwrap(), id("ab12"));
    assert_eq!(s.lookup("c").unwrap(), id("cd"));
    assert_eq!(s.lookup(&id("cd")[..12]).unwrap(), id("cd"));
    // Ambiguous prefix: the error lists every candidate.
    let err = s.lookup("ab").unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::AmbiguousId {
            candidates: vec![id("ab12"), id("ab34")]
        }
    );
    assert_eq!(
        err.message,
        format!(
            "more than one result for container \"ab\": ambiguous ID prefix matches 2 \
             containers: {}, {}",
            id("ab12"),
            id("ab34")
        )
    );
    // Unknown, non-hex, upper-case and empty inputs.
    for unknown in ["nope", "ef", "AB12", "", "ab12%", "ab12*"] {
        let err = s.lookup(unknown).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NoSuchContainer, "{unknown:?}");
        assert_eq!(
            err.message,
            format!("no container with name or ID \"{unknown}\" found: no such container")
        );
    }
}

fn exact_name_beats_id_prefix(s: &dyn StateStore) {
    s.add_container(&record("ab12", "web", 0)).unwrap();
    // A container *named* like the other's ID prefix.
    s.add_container(&record("cd", "ab12", 1)).unwrap();
    assert_eq!(s.lookup("ab12").unwrap(), id("cd"));
    assert_eq!(s.lookup("ab1").unwrap(), id("ab12"));
    // A name equal to another's full ID still wins over the ID.
    s.add_container(&record("ef", &id("ab12"), 2)).unwrap();
    assert_eq!(s.lookup(&id("ab12")).unwrap(), id("ef"));
}

fn save_state_round_trip(s: &dyn StateStore) {
    let r = record("aa", "a", 0);
    s.add_container(&r).unwrap();
    let st = RuntimeState {
        state: ContainerState::Exited,
        pid: 0,
        monitor_pid: 0,
        exit_code: Some(137),
        started_at: Some(Timestamp::from_second(1_700_000_100).unwrap()),
        finished_at: Some(Timestamp::from_second(1_700_000_200).unwrap()),
        oom_killed: true,
        mountpoint: None,
        restart_count: 2,
        error: "oom".into(),
        stop_requested: false,
        monitor_token: "0123abcd".into(),
        health: None,
        net: None,
        checkpoint: Default::default(),
    };
    s.save_state(&id("aa"), &st).unwrap();
    let got = s.get(&id("aa")).unwrap();
    assert_eq!(got.state, st);
    assert_eq!(got.config, r.config);
    assert_eq!(s.list().unwrap()[0].state.exit_code, Some(137));
    let err = s.save_state(&id("bb"), &st).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoSuchContainer);
}

fn remove_unknown(s: &dyn StateStore) {
    let err = s.remove(&id("aa")).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NoSuchContainer);
    s.add_container(&record("aa", "a", 0)).unwrap();
    s.remove(&id("aa")).unwrap();
    assert_eq!(
        s.remove(&id("aa")).unwrap_err().kind,
        ErrorKind::NoSuchContainer
    );
    assert_eq!(
        s.get(&id("aa")).unwrap_err().kind,
        ErrorKind::NoSuchContainer
    );
    assert!(s.list().unwrap().is_empty());
}

fn exit_code_outlives_removal(s: &dyn StateStore) {
    let mut r = record("aa", "a", 0);
    s.add_container(&r).unwrap();
    r.state.state = ContainerState::Exited;
    r.state.exit_code = Some(42);
    s.save_state(&id("aa"), &r.state).unwrap();
    s.add_container(&record("bb", "b", 0)).unwrap();
    assert_eq!(s.removed_exit_code(&id("aa")).unwrap(), None);
    s.remove(&id("aa")).unwrap();
    s.remove(&id("bb")).unwrap();
    assert_eq!(s.removed_exit_code(&id("aa")).unwrap(), Some(42));
    // Never exited: nothing to keep.
    assert_eq!(s.removed_exit_code(&id("bb")).unwrap(), None);
}

fn latest(s: &dyn StateStore) {
    assert_eq!(s.latest().unwrap(), None);
    s.add_container(&record("bb", "b", 20)).unwrap();
    s.add_container(&record("aa", "a", 10)).unwrap();
    assert_eq!(s.latest().unwrap(), Some(id("bb")));
    // Same creation time: the later insertion is the latest.
    s.add_container(&record("cc", "c", 20)).unwrap();
    assert_eq!(s.latest().unwrap(), Some(id("cc")));
    s.remove(&id("cc")).unwrap();
    assert_eq!(s.latest().unwrap(), Some(id("bb")));
}

fn image_users(s: &dyn StateStore) {
    s.add_container(&record_with_image("bb", "b", 20, "img1"))
        .unwrap();
    s.add_container(&record_with_image("aa", "a", 10, "img1"))
        .unwrap();
    s.add_container(&record_with_image("cc", "c", 5, "img2"))
        .unwrap();
    assert_eq!(
        s.containers_using_image("img1").unwrap(),
        [id("aa"), id("bb")]
    );
    assert_eq!(s.containers_using_image("img2").unwrap(), [id("cc")]);
    assert!(s.containers_using_image("img3").unwrap().is_empty());
}

fn healthy_integrity(s: &dyn StateStore) {
    s.add_container(&record("aa", "a", 0)).unwrap();
    assert!(s.integrity_check().unwrap().is_empty());
}

fn session(prefix: &str, ctr: &str, secs: i64) -> ExecSession {
    let mut s = ExecSession::new(id(prefix), id(ctr), vec!["true".into()]);
    s.created = Timestamp::from_second(1_700_000_000 + secs).unwrap();
    s
}

fn exec_sessions_round_trip(s: &dyn StateStore) {
    s.add_container(&record("aa", "a", 0)).unwrap();
    s.add_container(&record("bb", "b", 1)).unwrap();
    let e = s.add_exec_session(&session("e1", "cc", 0)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSuchContainer);
    s.add_exec_session(&session("e2", "aa", 2)).unwrap();
    s.add_exec_session(&session("e1", "aa", 1)).unwrap();
    s.add_exec_session(&session("f1", "bb", 1)).unwrap();
    let list: Vec<String> = s
        .exec_sessions(&id("aa"))
        .unwrap()
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(list, vec![id("e1"), id("e2")]);
    let mut one = s.get_exec_session(&id("e2")).unwrap();
    one.state = ExecState::Exited;
    one.exit_code = Some(7);
    s.save_exec_session(&one).unwrap();
    assert_eq!(s.get_exec_session(&id("e2")).unwrap().exit_code, Some(7));
    assert_eq!(s.lookup_exec_session("f").unwrap(), id("f1"));
    let amb = s.lookup_exec_session("e").unwrap_err();
    assert!(matches!(amb.kind, ErrorKind::AmbiguousId { .. }));
    assert!(s.lookup_exec_session("9").is_err());
    s.remove_exec_session(&id("e1")).unwrap();
    s.remove_exec_session(&id("e1")).unwrap();
    assert!(s.get_exec_session(&id("e1")).is_err());
    // Removing the container removes its sessions.
    s.remove(&id("aa")).unwrap();
    assert!(s.get_exec_session(&id("e2")).is_err());
    assert_eq!(s.exec_sessions(&id("bb")).unwrap().len(), 1);
}

fn finished_exec_sessions_are_capped(s: &dyn StateStore) {
    s.add_container(&record("aa", "a", 0)).unwrap();
    let kept = berth_types::exec::EXEC_SESSIONS_KEPT;
    for i in 0..kept + 5 {
        let mut e = session(&format!("e{i:04x}"), "aa", i as i64);
        e.state = ExecState::Exited;
        s.add_exec_session(&e).unwrap();
    }
    let mut running = session("f", "aa", 0);
    running.state = ExecState::Running;
    s.add_exec_session(&running).unwrap();
    let all = s.exec_sessions(&id("aa")).unwrap();
    assert_eq!(all.len(), kept + 1);
    // The running one stays even though it is the oldest; the oldest
    // finished ones went.
    assert!(all.iter().any(|e| e.id == id("f")));
    assert!(!all.iter().any(|e| e.id == id("e0000")));
}

fn save_config_keeps_id_and_name(s: &dyn StateStore) {
    let rec = record("aa", "a", 0);
    s.add_container(&rec).unwrap();
    let mut cfg = rec.config.clone();
    cfg.resources.memory = Some(1 << 20);
    s.save_config(&id("aa"), &cfg).unwrap();
    assert_eq!(
        s.get(&id("aa")).unwrap().config.resources.memory,
        Some(1 << 20)
    );
    cfg.name = "other".into();
    assert!(s.save_config(&id("aa"), &cfg).is_err());
    assert_eq!(s.lookup("a").unwrap(), id("aa"));
    assert!(s.save_config(&id("bb"), &rec.config).is_err());
}

/// A store plus whatever must outlive it (the temp dir of a database).
struct Fixture {
    store: Box<dyn StateStore>,
    _dir: Option<tempfile::TempDir>,
}

fn mem() -> Fixture {
    Fixture {
        store: Box::new(MemStore::new()),
        _dir: None,
    }
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state/db.sqlite")).unwrap();
    Fixture {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

fn volume(name: &str) -> berth_state::VolumeRecord {
    berth_state::VolumeRecord {
        name: name.into(),
        driver: "local".into(),
        mountpoint: format!("/var/lib/berth/volumes/{name}/_data"),
        created: "2024-01-01T00:00:00Z".into(),
        labels: Default::default(),
        options: Default::default(),
        anonymous: false,
        needs_copy_up: true,
    }
}

fn volumes_round_trip(s: &dyn StateStore) {
    assert!(s.list_volumes().unwrap().is_empty());
    s.add_volume(&volume("b")).unwrap();
    s.add_volume(&volume("a")).unwrap();
    assert_eq!(
        s.add_volume(&volume("a")).unwrap_err().kind,
        ErrorKind::NameInUse
    );
    for bad in ["", "../x", "a/b", "-x", ".."] {
        assert_eq!(
            s.add_volume(&volume(bad)).unwrap_err().kind,
            ErrorKind::InvalidInput,
            "{bad}"
        );
    }
    let mut a = s.get_volume("a").unwrap();
    assert_eq!(a, volume("a"));
    a.needs_copy_up = false;
    a.labels.insert("k".into(), "v".into());
    s.save_volume(&a).unwrap();
    assert_eq!(s.get_volume("a").unwrap(), a);
    let names: Vec<String> = s
        .list_volumes()
        .unwrap()
        .into_iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    s.remove_volume("a").unwrap();
    assert_eq!(
        s.remove_volume("a").unwrap_err().kind,
        ErrorKind::NoSuchContainer
    );
    assert!(s.get_volume("a").is_err());
    assert!(s.save_volume(&volume("zz")).is_err());
    assert_eq!(s.list_volumes().unwrap().len(), 1);
}

fn network(name: &str, iface: &str, subnet: &str) -> berth_types::net::Network {
    berth_types::net::Network {
        name: name.into(),
        id: "n".repeat(64),
        driver: "bridge".into(),
        network_interface: iface.into(),
        created: String::new(),
        subnets: vec![berth_types::net::Subnet {
            subnet: subnet.into(),
            gateway: None,
        }],
        ipv6_enabled: false,
        internal: false,
        dns_enabled: true,
        labels: Default::default(),
        options: Default::default(),
        ipam_options: Default::default(),
    }
}

fn networks_and_ipam(s: &dyn StateStore) {
    s.add_network(&network("a", "berth1", "10.90.1.0/24"))
        .unwrap();
    let dup = s.add_network(&network("a", "berth2", "10.90.2.0/24"));
    assert_eq!(dup.unwrap_err().kind, ErrorKind::NameInUse);
    let same_bridge = s.add_network(&network("b", "berth1", "10.90.2.0/24"));
    assert_eq!(same_bridge.unwrap_err().kind, ErrorKind::InUse);
    let same_subnet = s.add_network(&network("b", "berth2", "10.90.1.0/24"));
    assert_eq!(same_subnet.unwrap_err().kind, ErrorKind::InUse);
    s.add_network(&network("b", "berth2", "10.90.2.0/24"))
        .unwrap();
    assert_eq!(s.list_networks().unwrap().len(), 2);
    assert_eq!(s.get_network("b").unwrap().network_interface, "berth2");
    assert!(s.get_network("zz").is_err());

    s.add_container(&record("aa", "x", 0)).unwrap();
    s.add_container(&record("bb", "y", 0)).unwrap();
    assert!(s.ipam_claim("a", "10.90.1.2", &id("aa")).unwrap());
    assert!(!s.ipam_claim("a", "10.90.1.2", &id("bb")).unwrap());
    assert!(s.ipam_claim("b", "10.90.2.2", &id("aa")).unwrap());
    assert!(s.ipam_claim("a", "10.90.1.3", &id("bb")).unwrap());
    assert!(s.ipam_claim("a", "10.90.1.4", &id("dead")).is_err());
    s.ipam_release(&id("aa"), Some("b")).unwrap();
    assert_eq!(s.ipam_list().unwrap().len(), 2);
    // Removing a container frees what it holds.
    s.remove(&id("bb")).unwrap();
    assert_eq!(
        s.ipam_list().unwrap(),
        [("a".to_string(), "10.90.1.2".to_string(), id("aa"))]
    );
    s.ipam_release(&id("aa"), None).unwrap();
    assert!(s.ipam_list().unwrap().is_empty());
    s.remove_network("a").unwrap();
    assert!(s.remove_network("a").is_err());
}

fn pod(prefix: &str, name: &str, secs: i64) -> berth_types::pod::PodRecord {
    berth_types::pod::PodRecord {
        id: id(prefix),
        name: name.into(),
        created: Timestamp::from_second(1_700_000_000 + secs).unwrap(),
        labels: Default::default(),
        infra_id: None,
        share: vec!["net".into()],
        hostname: name.into(),
    }
}

fn pods_round_trip(s: &dyn StateStore) {
    assert!(s.list_pods().unwrap().is_empty());
    let b = pod("ab", "web", 20);
    let a = pod("ac", "db", 10);
    s.add_pod(&b).unwrap();
    s.add_pod(&a).unwrap();
    // Oldest first.
    let names: Vec<String> = s.list_pods().unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["db", "web"]);
    assert_eq!(s.get_pod(&id("ab")).unwrap(), b);
    // Names are unique; bad IDs and names are refused.
    let e = s.add_pod(&pod("cc", "web", 30)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NameInUse);
    let mut bad = pod("dd", "x", 0);
    bad.id = "XY".into();
    assert_eq!(s.add_pod(&bad).unwrap_err().kind, ErrorKind::InvalidInput);
    assert_eq!(
        s.add_pod(&pod("dd", "bad/name", 0)).unwrap_err().kind,
        ErrorKind::InvalidInput
    );
    // Lookup: name, full ID, unique prefix; an ambiguous prefix lists both.
    assert_eq!(s.lookup_pod("web").unwrap(), id("ab"));
    assert_eq!(s.lookup_pod(&id("ac")).unwrap(), id("ac"));
    assert_eq!(s.lookup_pod("ab").unwrap(), id("ab"));
    assert!(matches!(
        s.lookup_pod("a").unwrap_err().kind,
        ErrorKind::AmbiguousId { .. }
    ));
    let e = s.lookup_pod("nope").unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoSuchContainer);
    assert!(e.message.contains("no such pod"), "{}", e.message);
    // Save keeps the name; remove frees it.
    let mut b2 = b.clone();
    b2.infra_id = Some(id("ee"));
    s.save_pod(&b2).unwrap();
    assert_eq!(s.get_pod(&id("ab")).unwrap().infra_id, Some(id("ee")));
    s.remove_pod(&id("ab")).unwrap();
    assert_eq!(
        s.get_pod(&id("ab")).unwrap_err().kind,
        ErrorKind::NoSuchContainer
    );
    assert!(s.remove_pod(&id("ab")).is_err());
    assert!(s.save_pod(&b2).is_err());
    s.add_pod(&pod("ff", "web", 40)).unwrap();
}

macro_rules! conformance {
    ($store:ident: $($case:ident),* $(,)?) => {
        mod $store {
            $(
                #[test]
                fn $case() {
                    let f = super::$store();
                    super::$case(&*f.store);
                }
            )*
        }
    };
}

macro_rules! for_all_stores {
    ($($case:ident),* $(,)?) => {
        conformance!(mem: $($case),*);
        conformance!(sqlite: $($case),*);
    };
}

for_all_stores!(
    add_get_list_order,
    get_unknown,
    invalid_records_are_refused,
    name_uniqueness,
    id_collision_is_internal,
    name_free_after_rename_and_remove,
    rename_to_taken_name_changes_nothing,
    lookup_rules,
    exact_name_beats_id_prefix,
    save_state_round_trip,
    remove_unknown,
    exit_code_outlives_removal,
    latest,
    image_users,
    healthy_integrity,
    exec_sessions_round_trip,
    finished_exec_sessions_are_capped,
    save_config_keeps_id_and_name,
    volumes_round_trip,
    networks_and_ipam,
    pods_round_trip,
);
