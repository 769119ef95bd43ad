//! Inspecting one exec session by ID (issue 4 item 1): `inspect` takes a
//! session ID or unique prefix (after containers and images), `--type exec`
//! takes only sessions; the document has the shape of Podman's
//! `/exec/ID/json`.

mod common;

use common::*;

fn session(env: &Env, id: &str) -> Value {
    let o = env.berth(&["inspect", "--type", "exec", id]);
    o.success();
    o.json()[0].clone()
}

#[test]
fn exec_sessions_are_inspected_by_id() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["run", "-d", "--name", "box", IMAGE, "sleep", "300"]);
    let cid = env.inspect("box")["Id"].as_str().unwrap().to_string();
    let done = env.ok(&["exec", "-d", "-u", "1:1", "box", "sh", "-c", "exit 4"]);
    assert!(is_full_id(&done), "{done}");
    wait_until("the session to exit", || {
        session(&env, &done)["Running"] == false
    });
    let s = session(&env, &done);
    assert_eq!(s["ID"], done.as_str());
    assert_eq!(s["ContainerID"], cid.as_str());
    assert_eq!(s["ExitCode"], 4);
    assert_eq!(s["CanRemove"], true);
    assert_eq!(s["ProcessConfig"]["entrypoint"], "sh");
    assert_eq!(
        s["ProcessConfig"]["arguments"],
        serde_json::json!(["-c", "exit 4"])
    );
    assert_eq!(s["ProcessConfig"]["user"], "1:1");
    // Plain `inspect` finds it too, by a unique prefix, and templates work.
    let o = env.ok(&[
        "inspect",
        "--format",
        "{{.ExitCode}} {{.Running}}",
        &done[..16],
    ]);
    assert_eq!(o, "4 false");

    let live = env.ok(&["exec", "-d", "-t", "box", "sleep", "300"]);
    let s = session(&env, &live);
    assert_eq!(s["Running"], true);
    assert_eq!(s["ProcessConfig"]["tty"], true);
    let pid = s["Pid"].as_i64().unwrap() as i32;
    assert!(alive(pid), "session pid {pid}");

    // Containers are not sessions, and unknown IDs are errors.
    env.expect(&["inspect", "--type", "exec", "box"], 125)
        .stderr_has("no such object");
    env.expect(&["inspect", "0123456789ab"], 125)
        .stderr_has("no such object");
    // Removing the container removes its sessions.
    env.ok(&["rm", "-f", "box"]);
    env.expect(&["inspect", &done], 125);
}
