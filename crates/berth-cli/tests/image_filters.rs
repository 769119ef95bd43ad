//! `images --filter` with Podman's (libimage's) combination rules, and the
//! per-image facts of `images --format json` (RepoDigests, Labels,
//! Containers).

mod common;

use common::*;

#[path = "support/api.rs"]
mod api_support;
use api_support::*;

fn id_of(env: &Env, image: &str) -> String {
    env.ok(&["image", "inspect", "-f", "{{.Id}}", image])
}

/// Short IDs listed by `images -q` with `filters`, sorted.
fn listed(env: &Env, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["images", "-q"];
    for f in filters {
        args.extend(["--filter", f]);
    }
    let mut ids: Vec<String> = env.ok(&args).lines().map(str::to_string).collect();
    ids.sort();
    ids
}

fn short(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|i| i[..12].to_string()).collect();
    v.sort();
    v
}

/// Busybox plus two imported images, `alpha:1` (labels team=alpha, tier=x)
/// and, created after it, `beta:1` (team=beta, tier=x); returns the three
/// IDs. The names are not hex, so no pattern also matches as an ID prefix.
fn three_images(env: &Env) -> (String, String, String) {
    let fs = env.path().join("fs.tar");
    env.ok(&["create", "--name", "src", IMAGE]);
    env.ok(&["export", "-o", fs.to_str().unwrap(), "src"]);
    env.ok(&["rm", "src"]);
    for (name, team) in [("alpha:1", "alpha"), ("beta:1", "beta")] {
        env.ok(&[
            "import",
            "--change",
            &format!("LABEL=team={team}"),
            "--change",
            "LABEL=tier=x",
            fs.to_str().unwrap(),
            name,
        ]);
    }
    (
        id_of(env, IMAGE),
        id_of(env, "localhost/alpha:1"),
        id_of(env, "localhost/beta:1"),
    )
}

#[test]
fn repeated_reference_filters_are_ored_labels_and_other_keys_anded() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let (bb, a, b) = three_images(&env);
    // reference: any of the positive values.
    assert_eq!(
        listed(&env, &["reference=alpha", "reference=beta"]),
        short(&[&a, &b])
    );
    assert_eq!(
        listed(&env, &["reference=localhost/alpha:1", "reference=busybox"]),
        short(&[&a, &bb])
    );
    // reference!=: none of them; combined with positive ones.
    assert_eq!(listed(&env, &["reference!=alpha"]), short(&[&bb, &b]));
    assert_eq!(
        listed(&env, &["reference=*:1", "reference!=beta"]),
        short(&[&a])
    );
    // `*` does not cross a `/` (Go's path.Match), as in Podman.
    assert_eq!(
        listed(&env, &["reference=localhost*"]),
        Vec::<String>::new()
    );
    // label: every value must hold.
    assert_eq!(listed(&env, &["label=tier=x"]), short(&[&a, &b]));
    assert_eq!(
        listed(&env, &["label=tier=x", "label=team=alpha"]),
        short(&[&a])
    );
    assert_eq!(
        listed(&env, &["label=team=alpha", "label=team=beta"]),
        Vec::<String>::new()
    );
    assert_eq!(listed(&env, &["label!=team"]), short(&[&bb]));
    // Different keys: all must hold.
    assert_eq!(
        listed(&env, &["reference=alpha", "label=team=beta"]),
        Vec::<String>::new()
    );
    assert_eq!(
        listed(
            &env,
            &["reference=alpha", "reference=beta", "label=team=beta"]
        ),
        short(&[&b])
    );
    assert_eq!(listed(&env, &[&format!("id={}", &a[..8])]), short(&[&a]));
    // A boolean key twice with different values is refused, as in Podman.
    env.expect(
        &[
            "images",
            "--filter",
            "dangling=true",
            "--filter",
            "dangling=false",
        ],
        125,
    )
    .stderr_has("dangling");
    env.expect(&["images", "--filter", "reference"], 125)
        .stderr_has("filter=value or filter!=value");
}

#[test]
fn before_and_since_compare_creation_times() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let (bb, a, b) = three_images(&env);
    assert_eq!(
        listed(&env, &["before=localhost/beta:1"]),
        short(&[&bb, &a])
    );
    assert_eq!(listed(&env, &["before=alpha:1"]), short(&[&bb]));
    assert_eq!(
        listed(&env, &[&format!("before={IMAGE}")]),
        Vec::<String>::new()
    );
    assert_eq!(listed(&env, &[&format!("since={IMAGE}")]), short(&[&a, &b]));
    assert_eq!(listed(&env, &["after=alpha:1"]), short(&[&b]));
    // By ID too, and combined with since.
    assert_eq!(
        listed(&env, &[&format!("before={b}"), &format!("since={bb}")]),
        short(&[&a])
    );
    // Two before= filters: both must hold.
    assert_eq!(
        listed(&env, &["before=beta:1", "before=alpha:1"]),
        short(&[&bb])
    );
    env.expect(&["images", "--filter", "before=nosuchimage"], 125)
        .stderr_has("nosuchimage");
    // until=: a time (RFC 3339 or seconds) or a duration ago.
    let beta_created = env.ok(&["image", "inspect", "-f", "{{.Created}}", "localhost/beta:1"]);
    assert_eq!(
        listed(&env, &[&format!("until={}", beta_created.trim())]),
        short(&[&bb, &a])
    );
    assert_eq!(listed(&env, &["until=0s"]), short(&[&bb, &a, &b]));
    assert_eq!(listed(&env, &["until=1"]), Vec::<String>::new());
    env.expect(&["images", "--filter", "until=soon"], 125)
        .stderr_has("invalid time");
}

#[test]
fn images_json_has_repo_digests_labels_and_containers() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let (bb, a, _) = three_images(&env);
    env.ok(&["tag", "alpha:1", "quay.io/team/alpha:2"]);
    env.ok(&["create", "--name", "user1", IMAGE]);
    env.ok(&["create", "--name", "user2", IMAGE]);
    let list = env.berth(&["images", "--format", "json"]).success().json();
    let entry = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|e| e["Id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
            .clone()
    };
    let ea = entry(&a);
    let digest = ea["Digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{ea}");
    assert_eq!(
        ea["RepoDigests"],
        serde_json::json!([
            format!("localhost/alpha@{digest}"),
            format!("quay.io/team/alpha@{digest}")
        ])
    );
    assert_eq!(
        ea["Labels"],
        serde_json::json!({"team": "alpha", "tier": "x"})
    );
    assert_eq!(ea["Containers"], 0);
    let eb = entry(&bb);
    assert_eq!(eb["Containers"], 2, "{eb}");
    assert_eq!(
        eb["RepoDigests"][0],
        format!("localhost/busybox@{}", eb["Digest"].as_str().unwrap())
    );
    // The same facts in templates and in image inspect.
    assert_eq!(
        env.ok(&[
            "images",
            "--filter",
            "reference=busybox",
            "--format",
            "{{.Containers}}"
        ]),
        "2"
    );
    let inspected = env.berth(&["image", "inspect", "alpha:1"]).success().json();
    assert_eq!(inspected[0]["RepoDigests"], ea["RepoDigests"]);
}

/// `?filters=` with the JSON `filters` percent-encoded.
fn filters_query(filters: &serde_json::Value) -> String {
    let raw = filters.to_string();
    let mut q = String::from("/images/json?filters=");
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            q.push(b as char);
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    q
}

#[test]
fn api_images_json_filters_and_facts_match_the_cli() {
    if skip() {
        return;
    }
    let env = Env::with_busybox();
    let (bb, a, b) = three_images(&env);
    let svc = Service::start(&env, "0");
    let ids = |filters: serde_json::Value| {
        let r = http(&svc.sock, "GET", &filters_query(&filters), None);
        assert_eq!(r.status, 200, "{filters}");
        let mut v: Vec<String> = r
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["Id"].as_str().unwrap()[7..19].to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        ids(serde_json::json!({"reference": ["alpha", "beta"]})),
        short(&[&a, &b])
    );
    assert_eq!(
        ids(serde_json::json!({"label": ["tier=x", "team=beta"]})),
        short(&[&b])
    );
    assert_eq!(
        ids(serde_json::json!({"before": ["alpha:1"]})),
        short(&[&bb])
    );
    let r = http(
        &svc.sock,
        "GET",
        &filters_query(&serde_json::json!({"bogus": ["1"]})),
        None,
    );
    assert_eq!(r.status, 400);
    let all = http(&svc.sock, "GET", "/images/json", None).json();
    let ea = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["Id"] == format!("sha256:{a}"))
        .unwrap()
        .clone();
    assert_eq!(
        ea["Labels"],
        serde_json::json!({"team": "alpha", "tier": "x"})
    );
    assert_eq!(
        ea["RepoDigests"][0],
        format!(
            "localhost/alpha@{}",
            env.ok(&["image", "inspect", "-f", "{{.Digest}}", "alpha:1"])
        )
    );
}
