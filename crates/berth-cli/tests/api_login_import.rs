//! `docker login` (`POST /auth`) and `docker import` (`POST
//! /images/create?fromSrc=-`) through berth's Docker API, with the real
//! docker CLI; the registry is Debian's docker-registry with htpasswd.

mod common;
use common::*;

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

#[path = "support/registry.rs"]
mod registry_support;
use registry_support::*;

#[test]
fn docker_login_checks_credentials_and_push_uses_them() {
    if skip() || !have_docker() || no_registry() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    let reg = Registry::start(Some(("carol", "pw-of-carol")));
    let host = reg.host();

    let o = docker_stdin(
        &svc,
        &["login", "-u", "carol", "--password-stdin", &host],
        b"wrong\n",
    );
    o.code(1);
    assert!(
        o.err().to_lowercase().contains("unauthorized") || o.err().contains("invalid"),
        "{o}"
    );

    docker_stdin(
        &svc,
        &["login", "-u", "carol", "--password-stdin", &host],
        b"pw-of-carol\n",
    )
    .success()
    .stdout_has("Login Succeeded");
    // The client keeps the credentials and sends them with the push.
    let target = format!("{host}/private/busybox:v1");
    docker(&svc, &["tag", IMAGE, &target]).success();
    docker(&svc, &["push", &target])
        .success()
        .stdout_has("v1: digest: sha256:");

    let r = http(
        &svc.sock,
        "POST",
        "/auth",
        Some(&serde_json::json!("not a login")),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn docker_import_makes_an_image_from_a_tarball() {
    if skip() || !have_docker() {
        return;
    }
    let env = Env::with_busybox();
    let svc = Service::start(&env, "0");
    docker(&svc, &["create", "--name", "src", IMAGE, "true"]).success();
    let tarball = env.path().join("rootfs.tar");
    docker(&svc, &["export", "-o", tarball.to_str().unwrap(), "src"]).success();

    let o = docker(
        &svc,
        &[
            "import",
            "--change",
            "ENV GREETING=imported",
            "--change",
            "CMD [\"sh\", \"-c\", \"echo $GREETING\"]",
            "--message",
            "from a tarball",
            tarball.to_str().unwrap(),
            "localhost/imported:v1",
        ],
    );
    let id = o.success().out().trim().to_string();
    assert!(id.starts_with("sha256:"), "{o}");
    let out = docker(&svc, &["run", "--rm", "localhost/imported:v1"]);
    assert_eq!(out.success().out(), "imported");
    let history = docker(
        &svc,
        &[
            "history",
            "--format",
            "{{.Comment}}",
            "localhost/imported:v1",
        ],
    );
    history.success().stdout_has("from a tarball");

    // Only the body is imported, never a URL the engine would fetch.
    let r = http(
        &svc.sock,
        "POST",
        "/images/create?fromSrc=http://127.0.0.1:1/x.tar",
        None,
    );
    assert_eq!(r.status, 400);
}
