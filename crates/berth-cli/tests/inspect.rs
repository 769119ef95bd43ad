//! `berth inspect`: Podman's JSON shape for containers and images, `-f`
//! templates, and state kept after exit.

mod common;

use common::*;

/// RFC 3339 timestamps parse; Go's zero time means "never".
fn is_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok())
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[test]
fn running_container_shape() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let vol = env.path().join("vol");
    std::fs::create_dir(&vol).unwrap();
    let spec = format!("{}:/data:ro", vol.display());
    let id = env.ok(&[
        "run", "-d", "--name", "shape", "-v", &spec, "--label", "k=v", "-e", "X=1", "-w", "/tmp",
        IMAGE, "sleep", "1000",
    ]);
    let o = env.expect(&["inspect", "shape"], 0);
    let v = o.json();
    let arr = v.as_array().expect("inspect prints an array");
    assert_eq!(arr.len(), 1);
    let d = &arr[0];
    assert_eq!(d["Id"], id.as_str());
    assert_eq!(d["Name"], "shape");
    assert!(
        d["Created"]
            .as_str()
            .is_some_and(|s| s.parse::<jiff::Timestamp>().is_ok()),
        "{d}"
    );
    assert_eq!(d["Path"], "sleep", "{d}");
    assert_eq!(d["Args"], serde_json::json!(["1000"]), "{d}");

    let s = &d["State"];
    assert_eq!(s["Status"], "running", "{s}");
    assert_eq!(s["Running"], true, "{s}");
    assert_eq!(s["Paused"], false, "{s}");
    assert_eq!(s["OOMKilled"], false, "{s}");
    assert_eq!(s["ExitCode"], 0, "{s}");
    let pid = s["Pid"].as_i64().unwrap_or(0);
    assert!(pid > 0 && alive(pid as i32), "{s}");
    assert!(s["ConmonPid"].as_i64().unwrap_or(0) > 0, "{s}");
    assert!(
        is_time(&s["StartedAt"]) && s["StartedAt"] != ZERO_TIME,
        "{s}"
    );
    assert_eq!(s["FinishedAt"], ZERO_TIME, "{s}");

    let c = &d["Config"];
    assert_eq!(c["Labels"]["k"], "v", "{c}");
    assert_eq!(c["WorkingDir"], "/tmp", "{c}");
    assert_eq!(c["Image"], IMAGE, "{c}");
    let env_list: Vec<&str> = c["Env"]
        .as_array()
        .unwrap_or_else(|| panic!("{c}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env_list.contains(&"X=1"), "{c}");
    assert!(env_list.iter().any(|e| e.starts_with("PATH=")), "{c}");

    let image_id = env.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", IMAGE]);
    assert_eq!(d["Image"], image_id.as_str(), "Image is the image ID");
    assert_eq!(d["ImageName"], IMAGE);

    let mounts = d["Mounts"].as_array().unwrap_or_else(|| panic!("{d}"));
    let m = mounts
        .iter()
        .find(|m| m["Destination"] == "/data")
        .unwrap_or_else(|| panic!("no /data mount\n{d}"));
    assert_eq!(m["Type"], "bind", "{m}");
    assert_eq!(m["Source"], vol.to_str().unwrap(), "{m}");
    assert_eq!(m["RW"], false, "{m}");
    for f in ["HostsPath", "HostnamePath", "ResolvConfPath"] {
        let p = d[f].as_str().unwrap_or_default();
        assert!(std::path::Path::new(p).is_file(), "{f}={p:?}");
    }
}

#[test]
fn exit_code_kept_after_exit() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.expect(&["run", "--name", "e", IMAGE, "sh", "-c", "exit 7"], 7);
    let s = env.inspect("e")["State"].clone();
    assert_eq!(s["Status"], "exited", "{s}");
    assert_eq!(s["Running"], false, "{s}");
    assert_eq!(s["ExitCode"], 7, "{s}");
    assert_eq!(s["Pid"], 0, "{s}");
    assert!(
        is_time(&s["FinishedAt"]) && s["FinishedAt"] != ZERO_TIME,
        "{s}"
    );
    let started: jiff::Timestamp = s["StartedAt"].as_str().unwrap().parse().unwrap();
    let finished: jiff::Timestamp = s["FinishedAt"].as_str().unwrap().parse().unwrap();
    assert!(started <= finished, "{s}");
    // Still there on a later, unrelated command.
    env.ok(&["ps", "-a"]);
    assert_eq!(env.ok(&["inspect", "-f", "{{.State.ExitCode}}", "e"]), "7");
    assert_eq!(
        env.ok(&["inspect", "--format", "{{.Name}} {{.State.Status}}", "e"]),
        "e exited"
    );
}

#[test]
fn created_container_state() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "c", IMAGE, "true"]);
    let s = env.inspect("c")["State"].clone();
    assert_eq!(s["Status"], "created", "{s}");
    assert_eq!(s["Running"], false, "{s}");
    assert_eq!(s["Pid"], 0, "{s}");
    assert_eq!(s["StartedAt"], ZERO_TIME, "{s}");
    assert_eq!(s["FinishedAt"], ZERO_TIME, "{s}");
}

#[test]
fn inspect_many_and_missing() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "a", IMAGE, "true"]);
    env.ok(&["create", "--name", "b", IMAGE, "true"]);
    let o = env.expect(&["inspect", "-f", "{{.Name}}", "a", "b"], 0);
    assert_eq!(o.lines(), vec!["a", "b"], "{o}");
    let o = env.expect(&["inspect", "nosuch"], 125);
    o.stderr_has("nosuch");
    assert_eq!(o.stderr.lines().count(), 1, "{o}");
    // The found ones are still printed.
    let o = env.expect(&["inspect", "a", "nosuch"], 125);
    assert_eq!(o.json().as_array().map(Vec::len), Some(1), "{o}");
    env.expect(&["inspect", "--type", "container", IMAGE], 125);
}

#[test]
fn image_inspect() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let v = env.expect(&["inspect", "--type", "image", IMAGE], 0).json();
    let d = &v[0];
    let id = d["Id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id.len(), 64, "{d}");
    assert_eq!(d["RepoTags"], serde_json::json!([IMAGE]), "{d}");
    assert_eq!(d["Os"], "linux", "{d}");
    assert_eq!(d["Config"]["Cmd"], serde_json::json!(["sh"]), "{d}");
    assert_eq!(
        d["RootFS"]["Layers"].as_array().map(Vec::len),
        Some(1),
        "{d}"
    );
    assert!(d["Size"].as_u64().unwrap_or(0) > 0, "{d}");
    // Plain inspect falls back to images.
    assert_eq!(env.ok(&["inspect", "-f", "{{.Id}}", IMAGE]), id);
    env.expect(
        &["inspect", "--type", "image", "localhost/nosuch:latest"],
        125,
    );
}

#[test]
fn image_inspect_subcommand() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let id = env.ok(&["inspect", "--type", "image", "-f", "{{.Id}}", IMAGE]);
    let v = env.expect(&["image", "inspect", IMAGE], 0).json();
    assert_eq!(v[0]["Id"], id.as_str(), "{v}");
    assert_eq!(
        env.ok(&["image", "inspect", "-f", "{{.Id}}", &id[..12]]),
        id
    );
    env.expect(&["image", "inspect", "localhost/nosuch:latest"], 125);
}
