//! What `images` lists: Podman's `--filter` rules and the facts its JSON
//! shows beyond the store's record (repo digests, labels, containers).
//!
//! The filter rules are libimage's (containers/common `libimage/filters.go`):
//! every filter must hold (different keys, and repeated keys, are ANDed),
//! except `reference`, whose positive values are ORed (`--filter
//! reference=a --filter reference=b` lists both) while `reference!=` values
//! are ANDed. Any key may be negated with `!=`. A boolean key (`dangling`,
//! `containers`) given twice with different values is refused, as Podman
//! does.

use std::collections::BTreeMap;

use berth_storage::ImageInfo;
use berth_types::{Error, Result};

use crate::Runtime;

/// One compiled filter: does an image pass?
type Test = Box<dyn Fn(&ImageInfo) -> bool>;

/// The filters of one `images` call, compiled against the stores.
struct Compiled {
    /// Non-reference filters: all must hold.
    all: Vec<Test>,
    /// `reference=` patterns: at least one must match (when any).
    wanted_refs: Vec<String>,
    /// `reference!=` patterns: none may match.
    unwanted_refs: Vec<String>,
}

impl Runtime {
    /// The images of `list` that pass every `images --filter` expression
    /// (`KEY=VALUE` or `KEY!=VALUE`; keys `after`/`since`, `before`,
    /// `containers`, `dangling`, `digest`, `id`, `label`, `reference`).
    pub fn filter_images(
        &self,
        list: Vec<ImageInfo>,
        filters: &[String],
    ) -> Result<Vec<ImageInfo>> {
        if filters.is_empty() {
            return Ok(list);
        }
        let compiled = self.compile_filters(filters)?;
        let by_lookup = |pattern: &str| self.lookup_image(pattern).ok().map(|i| i.id);
        let refs_wanted: Vec<(String, Option<String>)> = compiled
            .wanted_refs
            .iter()
            .map(|p| (p.clone(), by_lookup(p)))
            .collect();
        let refs_unwanted: Vec<(String, Option<String>)> = compiled
            .unwanted_refs
            .iter()
            .map(|p| (p.clone(), by_lookup(p)))
            .collect();
        let matches = |img: &ImageInfo, (pattern, id): &(String, Option<String>)| {
            id.as_deref() == Some(img.id.as_str())
                || img.names.iter().any(|n| reference_matches(pattern, n))
        };
        Ok(list
            .into_iter()
            .filter(|img| {
                compiled.all.iter().all(|t| t(img))
                    && !refs_unwanted.iter().any(|r| matches(img, r))
                    && (refs_wanted.is_empty() || refs_wanted.iter().any(|r| matches(img, r)))
            })
            .collect())
    }

    /// How many containers use image `id` (`images`' `Containers`).
    pub fn image_container_count(&self, id: &str) -> Result<usize> {
        Ok(self.store.containers_using_image(id)?.len())
    }

    fn compile_filters(&self, filters: &[String]) -> Result<Compiled> {
        let mut c = Compiled {
            all: Vec::new(),
            wanted_refs: Vec::new(),
            unwanted_refs: Vec::new(),
        };
        let mut booleans: BTreeMap<String, String> = BTreeMap::new();
        for f in filters {
            // Split at the first `=`, as libimage does: `label=k!=v` is
            // key `label`, value `k!=v`; only a key ending in `!` negates
            // (`label!=k=v`).
            let Some((key, value)) = f.split_once('=') else {
                return Err(Error::invalid(format!(
                    "invalid image filter {f:?}: must be in the format \"filter=value or filter!=value\""
                )));
            };
            let (key, negate) = match key.strip_suffix('!') {
                Some(k) => (k, true),
                None => (key, false),
            };
            let mut boolean = |key: &str| -> Result<bool> {
                if let Some(prev) = booleans.insert(key.to_string(), value.to_string()) {
                    if prev != value {
                        return Err(Error::invalid(format!(
                            "specifying {key:?} filter more than once with different values is not supported"
                        )));
                    }
                }
                parse_bool(value).ok_or_else(|| {
                    Error::invalid(format!(
                        "invalid image filter {f:?}: {key} takes true or false"
                    ))
                })
            };
            let test: Test = match key {
                "reference" => {
                    let list = if negate {
                        &mut c.unwanted_refs
                    } else {
                        &mut c.wanted_refs
                    };
                    list.push(value.to_string());
                    continue;
                }
                "dangling" => {
                    let want = boolean(key)?;
                    Box::new(move |i| i.names.is_empty() == want)
                }
                "containers" => {
                    let want = boolean(key)?;
                    let used: Vec<String> = self
                        .list_images()?
                        .into_iter()
                        .map(|i| i.id)
                        .filter(|id| self.image_container_count(id).is_ok_and(|n| n > 0))
                        .collect();
                    Box::new(move |i| used.contains(&i.id) == want)
                }
                "id" => {
                    let prefix = value.strip_prefix("sha256:").unwrap_or(value).to_string();
                    Box::new(move |i| i.id.starts_with(&prefix))
                }
                "digest" => {
                    if !value.starts_with("sha256:") {
                        return Err(Error::invalid(format!(
                            "invalid value {value:?} for digest filter"
                        )));
                    }
                    let prefix = value.to_string();
                    Box::new(move |i| i.digest.starts_with(&prefix))
                }
                "label" => {
                    let (lk, lv) = match value.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (value.to_string(), None),
                    };
                    Box::new(move |i| {
                        image_labels(i)
                            .get(&lk)
                            .is_some_and(|have| lv.as_ref().is_none_or(|want| want == have))
                    })
                }
                "before" | "after" | "since" => {
                    let pivot = self.lookup_image(value).map_err(|e| {
                        Error::new(
                            e.kind,
                            format!(
                                "could not find local image for filter \"{key}\"=\"{value}\": {}",
                                e.message
                            ),
                        )
                        .with_subject(value)
                    })?;
                    let at = created(&pivot);
                    let before = key == "before";
                    Box::new(move |i| match (created(i), at) {
                        (Some(t), Some(p)) => {
                            if before {
                                t < p
                            } else {
                                t > p
                            }
                        }
                        _ => false,
                    })
                }
                "until" => {
                    let at = crate::units::parse_time(value)?;
                    Box::new(move |i| created(i).is_some_and(|t| t < at))
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "invalid image filter {f:?}: unsupported key {key:?}"
                    )))
                }
            };
            c.all.push(if negate {
                Box::new(move |i| !test(i))
            } else {
                test
            });
        }
        Ok(c)
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn created(img: &ImageInfo) -> Option<jiff::Timestamp> {
    img.created.as_deref().and_then(|c| c.parse().ok())
}

/// The image's labels (`config.Labels` of its config).
pub fn image_labels(img: &ImageInfo) -> BTreeMap<String, String> {
    serde_json::from_str::<serde_json::Value>(&img.config_json)
        .ok()
        .and_then(|cfg| cfg.pointer("/config/Labels").cloned())
        .and_then(|l| serde_json::from_value(l).ok())
        .unwrap_or_default()
}

/// `REPO@DIGEST` for each repository the image is named in, with the
/// manifest digest berth recorded when it pulled, loaded or created it
/// (Podman's `RepoDigests`).
pub fn repo_digests(img: &ImageInfo) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in &img.names {
        let repo = match berth_storage::reference::parse(n) {
            Ok(r) => format!("{}/{}", r.domain, r.path),
            Err(_) => continue,
        };
        let d = format!("{repo}@{}", img.digest);
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Shell-style match of `pat` against `s` with Go's `path.Match` rules for
/// `*` (any run of characters but `/`) and `?` (one character but `/`).
fn glob(pat: &[u8], s: &[u8]) -> bool {
    // One pass over the pattern, tracking which prefixes of `s` it can
    // match so far: time |pat| x |s|, whatever the stars (backtracking was
    // exponential in `*a*a*a...`).
    let mut can = vec![false; s.len() + 1];
    can[0] = true;
    for &p in pat {
        let mut next = vec![false; s.len() + 1];
        for j in 0..=s.len() {
            next[j] = match p {
                b'*' => can[j] || (j > 0 && next[j - 1] && s[j - 1] != b'/'),
                b'?' => j > 0 && can[j - 1] && s[j - 1] != b'/',
                _ => j > 0 && can[j - 1] && s[j - 1] == p,
            };
        }
        can = next;
    }
    can[s.len()]
}

/// Whether image name `name` (normalized: `docker.io/library/alpine:3`)
/// matches reference pattern `pat`, trying Podman's candidates: the full
/// name, the path (`library/alpine`), the last component with its tag
/// (`alpine:3`), and, for a tagged name, the name without tag, the path
/// with tag and the last component alone.
fn reference_matches(pat: &str, name: &str) -> bool {
    let Ok(r) = berth_storage::reference::parse(name) else {
        return glob(pat.as_bytes(), name.as_bytes());
    };
    let full = r.to_string();
    let untagged = format!("{}/{}", r.domain, r.path);
    let suffix = &full[untagged.len()..];
    let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_string();
    let candidates = [
        full.clone(),
        r.path.clone(),
        last(&full),
        untagged.clone(),
        format!("{}{suffix}", r.path),
        last(&untagged),
    ];
    candidates
        .iter()
        .any(|c| glob(pat.as_bytes(), c.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_candidates_are_podmans() {
        let bb = "localhost/busybox:latest";
        for pat in [
            "busybox",
            "busybox:latest",
            "localhost/busy*",
            "localhost/busybox",
            "localhost/busybox:latest",
            "busy*",
        ] {
            assert!(reference_matches(pat, bb), "{pat}");
        }
        assert!(!reference_matches("busy", bb));
        // `*` does not cross a `/` (Go's path.Match).
        assert!(reference_matches("*box", "quay.io/a/busybox:1"));
        assert!(!reference_matches("quay.io/*:1", "quay.io/a/busybox:1"));
        assert!(reference_matches(
            "quay.io/*/busybox:1",
            "quay.io/a/busybox:1"
        ));
        assert!(reference_matches("alpine", "docker.io/library/alpine:3"));
        assert!(reference_matches(
            "library/alpine:3",
            "docker.io/library/alpine:3"
        ));
        assert!(!reference_matches("library", "docker.io/library/alpine:3"));
    }

    #[test]
    fn repo_digests_name_each_repository_once() {
        let img = ImageInfo {
            id: "a".repeat(64),
            names: vec![
                "localhost/x:1".into(),
                "localhost/x:2".into(),
                "quay.io/y/z:3".into(),
            ],
            digest: format!("sha256:{}", "b".repeat(64)),
            created: None,
            size: 0,
            layers: vec![],
            config_json: r#"{"config":{"Labels":{"k":"v"}}}"#.into(),
        };
        let d = format!("sha256:{}", "b".repeat(64));
        assert_eq!(
            repo_digests(&img),
            [format!("localhost/x@{d}"), format!("quay.io/y/z@{d}")]
        );
        assert_eq!(image_labels(&img).get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn go_booleans() {
        assert_eq!(parse_bool("T"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn glob_follows_go_path_match_in_linear_time() {
        let m = |p: &str, s: &str| glob(p.as_bytes(), s.as_bytes());
        assert!(m("busy*", "busybox"));
        assert!(m("*", ""));
        assert!(!m("*", "a/b"), "a star stops at /");
        assert!(m("*/busybox", "library/busybox"));
        assert!(m("b?sy*x", "busybox"));
        assert!(!m("?", "/"));
        assert!(!m("busybox", "busybo"));
        assert!(m("a*b*c", "aXXbYYc"));
        // Exponential for a backtracking matcher; instant here.
        let hay = "a".repeat(60);
        assert!(!m(&format!("{}b", "*a".repeat(30)), &hay));
        assert!(m(&"*a".repeat(30), &hay));
    }
}
