//! Where credentials come from when no auth file is named: the default
//! auth file, then `~/.config/containers/auth.json`, then Docker's
//! `~/.docker/config.json` (containers-auth.json(5)); tested with a home
//! directory of the test's own against Debian's docker-registry with
//! htpasswd.

mod common;

use common::*;

#[path = "support/registry.rs"]
mod registry_support;
use registry_support::*;

#[test]
fn credentials_are_found_in_podmans_and_dockers_user_files() {
    if skip() || no_registry() {
        return;
    }
    let reg = Registry::start(Some(("bob", "pw-of-bob")));
    let host = reg.host();
    let env = Env::with_busybox();
    let home = env.path().join("home");
    let conf = env.path().join("registries.conf");
    std::fs::write(&conf, "").unwrap();
    let push = |tag: &str| {
        let dest = format!("{host}/mine/busybox:{tag}");
        let mut c = env.command(&["push", "--tls-verify=false", IMAGE, &dest]);
        c.env("HOME", &home)
            .env("CONTAINERS_REGISTRIES_CONF", &conf)
            .env_remove("REGISTRY_AUTH_FILE")
            .env("XDG_RUNTIME_DIR", env.path());
        run_command(c, None)
    };
    let token = "Ym9iOnB3LW9mLWJvYg=="; // base64 of bob:pw-of-bob
    let auths = serde_json::json!({ "auths": { host.clone(): { "auth": token } } }).to_string();

    let o = push("none");
    o.code(125);
    o.stderr_has("authentication required");

    let podman_file = home.join(".config/containers/auth.json");
    std::fs::create_dir_all(podman_file.parent().unwrap()).unwrap();
    std::fs::write(&podman_file, &auths).unwrap();
    push("podman").success();
    std::fs::remove_file(&podman_file).unwrap();

    let docker_file = home.join(".docker/config.json");
    std::fs::create_dir_all(docker_file.parent().unwrap()).unwrap();
    std::fs::write(&docker_file, &auths).unwrap();
    push("docker").success();
}
