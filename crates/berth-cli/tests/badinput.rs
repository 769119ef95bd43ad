//! Bad input: invalid names (RELIABILITY 29), ambiguous ID prefixes
//! (RELIABILITY 30) and operations in the wrong state (RELIABILITY 32).

mod common;

use common::*;

/// The error is exactly one line, starting with "Error:".
#[track_caller]
fn one_line_error(o: &Out) {
    let err = o.err();
    assert_eq!(err.lines().count(), 1, "error is not one line\n{o}");
    assert!(err.starts_with("Error: "), "{o}");
}

#[test]
fn invalid_names_are_refused() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let long = "a".repeat(300);
    let bad = [
        "",
        "a/b",
        "..",
        "-x",
        long.as_str(),
        "caf\u{e9}",
        "\u{1F40B}",
        "a b",
        ".hidden",
        "a:b",
    ];
    for name in bad {
        for verb in ["create", "run"] {
            let flag = format!("--name={name}");
            let o = env.berth(&[verb, &flag, IMAGE, "true"]);
            assert_eq!(o.code, 125, "{verb} with name {name:?}\n{o}");
            one_line_error(&o);
            assert_eq!(o.stdout, "", "{o}");
        }
    }
    assert_eq!(
        env.all_ids(),
        Vec::<String>::new(),
        "a bad name created something"
    );
    assert_eq!(env.container_dirs(), Vec::<std::path::PathBuf>::new());
    // Renames are checked the same way.
    env.ok(&["create", "--name", "good", IMAGE, "true"]);
    for name in bad {
        let o = env.berth(&["rename", "--", "good", name]);
        assert_eq!(o.code, 125, "rename to {name:?}\n{o}");
        one_line_error(&o);
    }
    assert_eq!(env.ok(&["ps", "-a", "--format", "{{.Names}}"]), "good");
    // The longest allowed name and the full allowed alphabet work.
    let ok_long = "b".repeat(253);
    env.ok(&["create", "--name", &ok_long, IMAGE, "true"]);
    env.ok(&["create", "--name", "A0.b_c-d", IMAGE, "true"]);
}

/// The shortest prefix of `id` that no other ID in `all` shares.
fn unique_prefix(id: &str, all: &[String]) -> String {
    (1..=id.len())
        .map(|n| &id[..n])
        .find(|p| all.iter().filter(|o| o.starts_with(p)).count() == 1)
        .unwrap()
        .to_string()
}

#[test]
fn ambiguous_id_prefixes() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    // Create containers until two share their first hex digit (at most 17).
    let mut ids: Vec<String> = Vec::new();
    let (a, b) = loop {
        let id = env.ok(&["create", IMAGE, "true"]);
        if let Some(other) = ids.iter().find(|o| o[..1] == id[..1]) {
            break (other.clone(), id.clone());
        }
        ids.push(id);
        assert!(ids.len() <= 16, "17 IDs with distinct first digits?");
    };
    ids.push(b.clone());
    let prefix = &a[..1];
    let sharing: Vec<&String> = ids.iter().filter(|i| i.starts_with(prefix)).collect();
    assert_eq!(sharing.len(), 2);

    let o = env.expect(&["inspect", prefix], 125);
    one_line_error(&o);
    o.stderr_has("ambiguous").stderr_has(&a).stderr_has(&b);
    o.stderr_has("2 containers");
    for verb in [&["start"][..], &["rm"], &["container", "exists"]] {
        let mut args = verb.to_vec();
        args.push(prefix);
        let o = env.berth(&args);
        assert_ne!(o.code, 0, "{o}");
        o.stderr_has("ambiguous");
    }
    assert_eq!(
        env.all_ids().len(),
        ids.len(),
        "an ambiguous rm removed something"
    );

    // Unique prefixes, full IDs and names all resolve.
    for id in [&a, &b] {
        let p = unique_prefix(id, &ids);
        assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", &p]), *id, "prefix {p}");
        assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", id]), *id);
        let name = env.ok(&["inspect", "-f", "{{.Name}}", id]);
        assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", &name]), *id);
    }

    // An exact name beats an ID prefix: a container named like the prefix.
    let named = env.ok(&["create", "--name", prefix, IMAGE, "true"]);
    assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", prefix]), named);
    env.expect(&["rm", prefix], 0);
    env.expect(&["container", "exists", &named], 1);
    env.expect(&["container", "exists", &a], 0);
    env.expect(&["container", "exists", &b], 0);
    // Uppercase is not an ID prefix.
    env.expect(&["inspect", &a[..12].to_uppercase()], 125);
}

#[test]
fn wrong_state_operations() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "live", IMAGE, "sleep", "1000"]);
    let before = env.inspect("live")["State"].clone();

    let o = env.expect(&["unpause", "live"], 125);
    one_line_error(&o);
    o.stderr_has("live")
        .stderr_has("running")
        .stderr_has("unpause");
    let o = env.expect(&["start", "live"], 125);
    one_line_error(&o);
    o.stderr_has("live")
        .stderr_has("running")
        .stderr_has("start");
    let o = env.expect(&["init", "live"], 125);
    o.stderr_has("live");

    let after = env.inspect("live")["State"].clone();
    for k in ["Status", "Pid", "StartedAt", "ConmonPid", "Paused"] {
        assert_eq!(
            before[k], after[k],
            "{k} changed\nbefore {before}\nafter {after}"
        );
    }

    env.ok(&["create", "--name", "idle", IMAGE, "true"]);
    let o = env.expect(&["pause", "idle"], 125);
    o.stderr_has("idle").stderr_has("pause");
    let o = env.expect(&["unpause", "idle"], 125);
    o.stderr_has("idle");
    env.ok(&["pause", "live"]);
    let o = env.expect(&["pause", "live"], 125);
    o.stderr_has("live").stderr_has("paused");
    let o = env.expect(&["start", "live"], 125);
    o.stderr_has("live").stderr_has("paused");
    assert_eq!(env.status("live"), "paused");
    assert_eq!(env.status("idle"), "created");
}

#[test]
fn bad_flag_values() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    for args in [
        &["create", "--memory", "lots", IMAGE, "true"][..],
        &["create", "--no-such-flag", IMAGE, "true"],
        &["create", "-v", "./relative:/x", IMAGE, "true"],
        &["create", "--cap-add", "NOT_A_CAP", IMAGE, "true"],
        &["create", "--env-file", "/nonexistent/env", IMAGE, "true"],
        &["create"],
        &["kill", "-s", "SIGNOPE", "x"],
    ] {
        let o = env.berth(args);
        assert_eq!(o.code, 125, "{o}");
        assert!(!o.stderr.is_empty(), "{o}");
    }
    assert_eq!(env.all_ids(), Vec::<String>::new());
}
