//! `--requires`: dependencies start first, a dependency cannot be removed
//! while a dependent exists, `rm --depend` removes the chain.

mod common;

use common::*;

fn state(env: &Env, c: &str) -> String {
    env.inspect(c)["State"]["Status"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn requires_starts_dependencies_first_and_guards_removal() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "db", IMAGE, "sleep", "300"]);
    env.ok(&[
        "create",
        "--name",
        "cache",
        "--requires",
        "db",
        IMAGE,
        "sleep",
        "300",
    ]);
    env.ok(&[
        "create",
        "--name",
        "app",
        "--requires",
        "cache,db",
        IMAGE,
        "sleep",
        "300",
    ]);
    env.expect(&["create", "--requires", "nope", IMAGE, "true"], 125);
    // Starting the top of the graph starts the whole chain.
    env.ok(&["start", "app"]);
    for c in ["db", "cache", "app"] {
        assert_eq!(state(&env, c), "running", "{c}");
    }
    let started = |c: &str| {
        env.inspect(c)["State"]["StartedAt"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(started("db") <= started("cache") && started("cache") <= started("app"));
    // A dependency is not removed while a dependent exists, even with -f.
    env.expect(&["rm", "-f", "db"], 125).stderr_has("cache");
    env.expect(&["rm", "-f", "cache"], 125).stderr_has("app");
    assert_eq!(state(&env, "db"), "running");
    // --depend removes dependents first, then the container.
    let removed = env.ok(&["rm", "-f", "--depend", "db"]);
    assert_eq!(removed.lines().count(), 3, "{removed}");
    let app = removed.lines().next().unwrap();
    assert!(env.ok(&["ps", "-aq", "--no-trunc"]).is_empty());
    assert_eq!(app.len(), 64);
}

#[test]
fn run_with_requires_starts_the_dependency() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    env.ok(&["create", "--name", "base", IMAGE, "sleep", "300"]);
    let out = env.ok(&["run", "--rm", "--requires", "base", IMAGE, "echo", "ran"]);
    assert_eq!(out, "ran");
    assert_eq!(state(&env, "base"), "running");
    env.ok(&["rm", "-f", "base"]);
}
