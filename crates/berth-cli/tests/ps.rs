//! `berth ps`: listing, -a, -q, --no-trunc, filters and formats (Podman's
//! 040-ps.bats).

mod common;

use common::*;

/// Three containers: `up` running, `done` exited(0), `new` created, with
/// labels. Returns their full IDs in that order.
fn three(env: &Env) -> [String; 3] {
    let up = env.ok(&[
        "run", "-d", "--name", "up", "--label", "tier=web", "--label", "team=a", IMAGE, "sleep",
        "1000",
    ]);
    env.ok(&["run", "--name", "done", "--label", "tier=db", IMAGE, "true"]);
    let done = env.ok(&["inspect", "-f", "{{.Id}}", "done"]);
    let new = env.ok(&[
        "create", "--name", "new", "--label", "team=a", IMAGE, "true",
    ]);
    [up, done, new]
}

/// Names printed by `ps ARGS --format {{.Names}}`, sorted.
fn names(env: &Env, args: &[&str]) -> Vec<String> {
    let mut a = vec!["ps"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--format", "{{.Names}}"]);
    let o = env.expect(&a, 0);
    let mut v: Vec<String> = o.lines().into_iter().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn ps_running_vs_all() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let o = env.expect(&["ps"], 0);
    assert_eq!(
        o.lines().len(),
        1,
        "an empty ps prints only the header\n{o}"
    );
    assert!(o.stdout.starts_with("CONTAINER ID"), "{o}");
    three(&env);
    assert_eq!(names(&env, &[]), vec!["up"]);
    assert_eq!(names(&env, &["-a"]), vec!["done", "new", "up"]);
    let o = env.expect(&["ps", "-a"], 0);
    let lines = o.lines();
    assert_eq!(lines.len(), 4, "{o}");
    for (name, status) in [("up", "Up "), ("done", "Exited (0)"), ("new", "Created")] {
        let row = lines
            .iter()
            .find(|l| l.trim_end().ends_with(name))
            .unwrap_or_else(|| panic!("no row for {name}\n{o}"));
        assert!(row.contains(status), "{name}: {row}");
        assert!(row.contains(IMAGE), "{name}: {row}");
    }
    // Newest first.
    assert_eq!(
        env.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        "new\ndone\nup"
    );
}

#[test]
fn ps_quiet_and_no_trunc() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let [up, done, new] = three(&env);
    let o = env.expect(&["ps", "-q"], 0);
    assert_eq!(o.lines(), vec![&up[..12]], "{o}");
    let o = env.expect(&["ps", "-a", "-q"], 0);
    let mut got = o.lines();
    got.sort();
    let mut want = vec![&up[..12], &done[..12], &new[..12]];
    want.sort();
    assert_eq!(got, want, "{o}");
    let o = env.expect(&["ps", "-a", "-q", "--no-trunc"], 0);
    let mut got = o.lines();
    got.sort();
    let mut want = vec![up.as_str(), done.as_str(), new.as_str()];
    want.sort();
    assert_eq!(got, want, "{o}");
    let o = env.expect(&["ps", "--no-trunc"], 0);
    assert!(o.stdout.contains(&up), "{o}");
    let o = env.expect(&["ps"], 0);
    assert!(
        !o.stdout.contains(&up) && o.stdout.contains(&up[..12]),
        "{o}"
    );
}

#[test]
fn ps_filters() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let [up, _done, _new] = three(&env);
    assert_eq!(names(&env, &["-a", "-f", "status=running"]), vec!["up"]);
    assert_eq!(names(&env, &["-a", "-f", "status=exited"]), vec!["done"]);
    assert_eq!(names(&env, &["-a", "-f", "status=created"]), vec!["new"]);
    // A filter implies -a (Podman).
    assert_eq!(names(&env, &["--filter", "status=exited"]), vec!["done"]);
    assert_eq!(names(&env, &["-a", "-f", "name=do"]), vec!["done"]);
    assert_eq!(names(&env, &["-a", "-f", "name=^ne"]), vec!["new"]);
    assert_eq!(
        names(&env, &["-a", "-f", "name=nomatch"]),
        Vec::<String>::new()
    );
    assert_eq!(
        names(&env, &["-a", "-f", &format!("id={}", &up[..8])]),
        vec!["up"]
    );
    assert_eq!(names(&env, &["-a", "-f", "label=team"]), vec!["new", "up"]);
    assert_eq!(names(&env, &["-a", "-f", "label=tier=db"]), vec!["done"]);
    assert_eq!(
        names(&env, &["-a", "-f", "label=team=a", "-f", "status=running"]),
        vec!["up"]
    );
    let o = env.expect(&["ps", "-a", "-f", "bogus=1"], 125);
    o.stderr_has("bogus");
    env.expect(&["ps", "-a", "-f", "status=sleepy"], 125);
}

#[test]
fn ps_format_json() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let [up, done, new] = three(&env);
    let v = env.expect(&["ps", "-a", "--format", "json"], 0).json();
    let arr = v.as_array().expect("ps --format json is an array");
    assert_eq!(arr.len(), 3, "{v}");
    for (id, name, state) in [
        (&up, "up", "running"),
        (&done, "done", "exited"),
        (&new, "new", "created"),
    ] {
        let c = arr
            .iter()
            .find(|c| c["Id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} missing\n{v}"));
        assert_eq!(c["Names"], serde_json::json!([name]), "{c}");
        assert_eq!(c["State"], state, "{c}");
        assert_eq!(c["Image"], IMAGE, "{c}");
    }
    let running = env.expect(&["ps", "--format", "json"], 0).json();
    assert_eq!(running.as_array().map(Vec::len), Some(1), "{running}");
    // An empty list is still JSON.
    let none = env
        .expect(&["ps", "-f", "name=nomatch", "--format", "json"], 0)
        .json();
    assert_eq!(none, serde_json::json!([]));
}

#[test]
fn ps_go_templates() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let [up, _done, _new] = three(&env);
    let o = env.expect(&["ps", "--format", "{{.Names}}"], 0);
    assert_eq!(o.stdout, "up\n", "{o}");
    let o = env.expect(&["ps", "--format", "{{.ID}} {{.Names}} {{.Image}}"], 0);
    assert_eq!(o.stdout, format!("{} up {IMAGE}\n", &up[..12]), "{o}");
    let o = env.expect(&["ps", "--format", "table {{.ID}}\t{{.Names}}"], 0);
    let lines = o.lines();
    assert_eq!(lines.len(), 2, "{o}");
    let header: Vec<&str> = lines[0].split("  ").filter(|s| !s.is_empty()).collect();
    assert_eq!(header, vec!["CONTAINER ID", "NAMES"], "{o}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row, vec![&up[..12], "up"], "{o}");
    // Columns are aligned: the name starts where NAMES starts.
    assert_eq!(lines[0].find("NAMES"), lines[1].find("up"), "{o}");
    let o = env.expect(&["ps", "--format", "{{.Labels.tier}}"], 0);
    assert_eq!(o.out(), "web", "{o}");
    let o = env.expect(&["ps", "--format", "{{.Nope"], 125);
    assert_eq!(o.stdout, "", "{o}");
}
