//! OCI hooks from `hooks.d` directories, in Podman's `hooks-dir` format
//! (version 1.0.0, see `oci-hooks(5)`):
//!
//! ```json
//! {"version": "1.0.0",
//!  "hook": {"path": "/usr/libexec/h", "args": ["h", "x"], "env": ["A=1"], "timeout": 5},
//!  "when": {"always": true, "annotations": {"^key$": "value"}, "commands": [".*/sh$"],
//!           "hasBindMounts": true},
//!  "stages": ["prestart", "poststop"]}
//! ```
//!
//! Every `*.json` file of every directory is read; a file in a later
//! directory replaces one of the same name in an earlier one (so
//! `/etc/containers/oci/hooks.d` overrides `/usr/share/containers/oci/hooks.d`),
//! and matching hooks are injected in file-name order. `when` follows
//! Podman's 1.0.0 rules exactly: `always`, `hasBindMounts` and every
//! `annotations` pair must all hold, and when `commands` is given, one of
//! them must match the process's `args[0]`. Annotations are the spec's
//! annotations only (not labels), as in Podman. runc then runs the hooks
//! with the OCI state on their stdin; a failing `prestart`,
//! `createRuntime` or `createContainer` hook makes `runc create` fail.
//!
//! A broken hook file fails the start with an error naming the file rather
//! than being skipped: a silently missing hook may be a missing security
//! control (Podman refuses as well).
//!
//! # Regular expressions
//!
//! To avoid a regex dependency, patterns use a small matcher with Go's
//! `regexp.MatchString` semantics (unanchored search) for the subset hook
//! files use in practice: literals, `.`, `[...]`/`[^...]` classes with
//! ranges, `\d \w \s` and escaped literals (`\.`), the quantifiers `*`, `+`
//! and `?` on one atom, `^` at the start and `$` at the end. Alternation,
//! groups and counted repetition (`| ( ) { }`) are rejected with an error
//! naming the pattern instead of silently matching differently.

use berth_types::{ContainerConfig, Error, MountKind, Result};
use oci_spec::runtime::Hooks;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Podman's default hook directories, searched when none are configured.
pub const DEFAULT_HOOKS_DIRS: [&str; 2] = [
    "/usr/share/containers/oci/hooks.d",
    "/etc/containers/oci/hooks.d",
];

/// Stages runc 1.1.5 runs, with their `config.json` key.
const STAGES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// One hooks.d file.
#[derive(Debug, Deserialize)]
struct HookFile {
    version: String,
    hook: HookCmd,
    #[serde(default)]
    when: When,
    #[serde(default)]
    stages: Vec<String>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
struct HookCmd {
    path: PathBuf,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct When {
    always: Option<bool>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    commands: Vec<String>,
    has_bind_mounts: Option<bool>,
}

/// A validated hook file with its patterns compiled.
struct Loaded {
    file: HookFile,
    annotations: Vec<(Pattern, Pattern)>,
    commands: Vec<Pattern>,
}

/// What a container offers to `when`.
pub(crate) struct Subject<'a> {
    /// The spec's annotations.
    pub annotations: &'a HashMap<String, String>,
    /// `process.args[0]`.
    pub command: &'a str,
    /// The container has bind mounts of its own.
    pub has_bind_mounts: bool,
}

impl Subject<'_> {
    /// True when the user asked for at least one bind mount.
    pub fn bind_mounts(cfg: &ContainerConfig) -> bool {
        cfg.mounts.iter().any(|m| m.kind == MountKind::Bind)
    }
}

impl Loaded {
    /// Podman's 1.0.0 `When.Match` (AND of every condition given).
    fn matches(&self, s: &Subject) -> bool {
        let w = &self.file.when;
        let mut matches = 0;
        if let Some(always) = w.always {
            if !always {
                return false;
            }
            matches += 1;
        }
        if let Some(want) = w.has_bind_mounts {
            if !(want && s.has_bind_mounts) {
                return false;
            }
            matches += 1;
        }
        for (kp, vp) in &self.annotations {
            let hit = s
                .annotations
                .iter()
                .any(|(k, v)| kp.is_match(k) && vp.is_match(v));
            if !hit {
                return false;
            }
            matches += 1;
        }
        if !self.commands.is_empty() {
            return self.commands.iter().any(|p| p.is_match(s.command));
        }
        matches > 0
    }
}

fn bad(file: &Path, why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("hook file {}: {why}", file.display()))
}

fn load(path: &Path) -> Result<Loaded> {
    let text = std::fs::read(path)
        .map_err(|e| Error::io(format!("reading hook file {}", path.display()), e))?;
    let file: HookFile = serde_json::from_slice(&text).map_err(|e| bad(path, e))?;
    if file.version != "1.0.0" {
        return Err(bad(
            path,
            format!("unsupported version {:?} (want 1.0.0)", file.version),
        ));
    }
    if !file.hook.path.is_absolute() || !file.hook.path.exists() {
        return Err(bad(
            path,
            format!("hook path {} does not exist", file.hook.path.display()),
        ));
    }
    if file.stages.is_empty() {
        return Err(bad(path, "no stages"));
    }
    if let Some(s) = file.stages.iter().find(|s| !STAGES.contains(&s.as_str())) {
        return Err(bad(path, format!("unknown stage {s:?}")));
    }
    let w = &file.when;
    if w.always.is_none()
        && w.has_bind_mounts.is_none()
        && w.annotations.is_empty()
        && w.commands.is_empty()
    {
        return Err(bad(path, "no \"when\" conditions"));
    }
    let pat = |p: &str| Pattern::new(p).map_err(|e| bad(path, e));
    let annotations = w
        .annotations
        .iter()
        .map(|(k, v)| Ok((pat(k)?, pat(v)?)))
        .collect::<Result<_>>()?;
    let commands = w.commands.iter().map(|c| pat(c)).collect::<Result<_>>()?;
    Ok(Loaded {
        file,
        annotations,
        commands,
    })
}

/// Every hook file in `dirs` (later directories override same-named
/// files), sorted by file name. Missing directories are skipped.
fn hook_files(dirs: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>> {
    let mut files = BTreeMap::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("reading hooks directory {}", dir.display()),
                    e,
                ))
            }
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                files.insert(name, e.path());
            }
        }
    }
    Ok(files)
}

/// The hooks from `dirs` that match `subject`, in `config.json` form;
/// `None` when there are none.
pub(crate) fn hooks_for(dirs: &[PathBuf], subject: &Subject) -> Result<Option<Hooks>> {
    let mut by_stage: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
    for path in hook_files(dirs)?.values() {
        let loaded = load(path)?;
        if !loaded.matches(subject) {
            continue;
        }
        let cmd = serde_json::to_value(&loaded.file.hook)?;
        for stage in &loaded.file.stages {
            let key = STAGES
                .iter()
                .find(|s| *s == stage)
                .copied()
                .unwrap_or("prestart");
            by_stage.entry(key).or_default().push(cmd.clone());
        }
    }
    if by_stage.is_empty() {
        return Ok(None);
    }
    // Through JSON: oci-spec marks `prestart` deprecated, but runc 1.1.5
    // still runs it and Podman's users rely on it.
    let hooks: Hooks = serde_json::from_value(serde_json::to_value(by_stage)?)?;
    Ok(Some(hooks))
}

// ---------------------------------------------------------------- regex

#[derive(Debug, Clone)]
enum Atom {
    Any,
    Char(char),
    /// Ranges, negated when the flag is set.
    Class(bool, Vec<(char, char)>),
}

impl Atom {
    fn matches(&self, c: char) -> bool {
        match self {
            Atom::Any => c != '\n',
            Atom::Char(x) => *x == c,
            Atom::Class(neg, ranges) => ranges.iter().any(|(a, b)| (*a..=*b).contains(&c)) != *neg,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rep {
    One,
    Opt,
    Star,
    Plus,
}

/// A compiled pattern of the supported subset (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    anchored_start: bool,
    anchored_end: bool,
    items: Vec<(Atom, Rep)>,
}

fn escape_class(c: char) -> Option<Atom> {
    let r = |v: &[(char, char)]| Some(Atom::Class(false, v.to_vec()));
    match c {
        'd' => r(&[('0', '9')]),
        'w' => r(&[('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')]),
        's' => r(&[(' ', ' '), ('\t', '\r')]),
        _ => None,
    }
}

impl Pattern {
    /// Compile `src`, rejecting features outside the supported subset.
    pub fn new(src: &str) -> std::result::Result<Pattern, String> {
        let unsupported = |what: &str| {
            format!("regular expression {src:?}: {what} is not supported by berth's hook matcher")
        };
        let mut chars: Vec<char> = src.chars().collect();
        let anchored_start = chars.first() == Some(&'^');
        if anchored_start {
            chars.remove(0);
        }
        let mut anchored_end = false;
        if chars.last() == Some(&'$') {
            let backslashes = chars[..chars.len() - 1]
                .iter()
                .rev()
                .take_while(|c| **c == '\\')
                .count();
            if backslashes % 2 == 0 {
                chars.pop();
                anchored_end = true;
            }
        }
        let mut items: Vec<(Atom, Rep)> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            let atom = match c {
                '.' => Atom::Any,
                '\\' => {
                    let e = *chars
                        .get(i)
                        .ok_or_else(|| unsupported("a trailing backslash"))?;
                    i += 1;
                    match escape_class(e) {
                        Some(a) => a,
                        None if e.is_ascii_alphanumeric() => {
                            return Err(unsupported(&format!("\\{e}")))
                        }
                        None => Atom::Char(e),
                    }
                }
                '[' => {
                    let neg = chars.get(i) == Some(&'^');
                    if neg {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    let mut first = true;
                    loop {
                        let c = *chars
                            .get(i)
                            .ok_or_else(|| unsupported("an unterminated class"))?;
                        i += 1;
                        if c == ']' && !first {
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            let e = *chars
                                .get(i)
                                .ok_or_else(|| unsupported("a trailing backslash"))?;
                            i += 1;
                            if let Some(Atom::Class(_, r)) = escape_class(e) {
                                ranges.extend(r);
                                continue;
                            }
                            e
                        } else {
                            c
                        };
                        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']')
                        {
                            ranges.push((lo, chars[i + 1]));
                            i += 2;
                        } else {
                            ranges.push((lo, lo));
                        }
                    }
                    Atom::Class(neg, ranges)
                }
                '|' | '(' | ')' | '{' | '}' => return Err(unsupported(&format!("{c:?}"))),
                '^' | '$' => return Err(unsupported(&format!("{c:?} in the middle"))),
                '*' | '+' | '?' => return Err(unsupported(&format!("{c:?} without an atom"))),
                c => Atom::Char(c),
            };
            let rep = match chars.get(i) {
                Some('*') => Rep::Star,
                Some('+') => Rep::Plus,
                Some('?') => Rep::Opt,
                _ => Rep::One,
            };
            if rep != Rep::One {
                i += 1;
                if matches!(chars.get(i), Some('*' | '+' | '?')) {
                    return Err(unsupported("a lazy or repeated quantifier"));
                }
            }
            items.push((atom, rep));
        }
        Ok(Pattern {
            anchored_start,
            anchored_end,
            items,
        })
    }

    /// Go's `regexp.MatchString`: does the pattern match anywhere in `s`?
    pub fn is_match(&self, s: &str) -> bool {
        let text: Vec<char> = s.chars().collect();
        if self.anchored_start {
            return self.here(&self.items, &text);
        }
        (0..=text.len()).any(|i| self.here(&self.items, &text[i..]))
    }

    fn here(&self, items: &[(Atom, Rep)], text: &[char]) -> bool {
        let Some(((atom, rep), rest)) = items.split_first() else {
            return !self.anchored_end || text.is_empty();
        };
        let first = text.first().is_some_and(|c| atom.matches(*c));
        match rep {
            Rep::One => first && self.here(rest, &text[1..]),
            Rep::Opt => (first && self.here(rest, &text[1..])) || self.here(rest, text),
            Rep::Star | Rep::Plus => {
                let min = usize::from(*rep == Rep::Plus);
                let n = text.iter().take_while(|c| atom.matches(**c)).count();
                n >= min && (min..=n).rev().any(|k| self.here(rest, &text[k..]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::new(p).unwrap().is_match(s)
    }

    #[test]
    fn regex_subset_behaves_like_go() {
        assert!(m("sh", "/bin/sh"));
        assert!(m(".*", ""));
        assert!(m("^/bin/sh$", "/bin/sh"));
        assert!(!m("^/bin/sh$", "/bin/shx"));
        assert!(!m("^sh", "/bin/sh"));
        assert!(m(".*/sh$", "/usr/bin/sh"));
        assert!(m("^io\\.berth\\..*$", "io.berth.container.name"));
        assert!(!m("^io\\.berth\\.x$", "io-berth-x"));
        assert!(m("^a[0-9]+b?$", "a123"));
        assert!(!m("^a[0-9]+b?$", "a"));
        assert!(m("^[^/]*$", "abc"));
        assert!(!m("^[^/]*$", "a/c"));
        assert!(m("^\\d\\w*$", "1abc_"));
        assert!(m("x$", "abx"));
        assert!(m("a\\$", "a$b"));
    }

    #[test]
    fn unsupported_features_are_refused() {
        for p in ["a|b", "(a)", "a{2}", "a*?", "\\bword", "a^b", "*a"] {
            assert!(Pattern::new(p).is_err(), "{p}");
        }
    }

    fn write(dir: &Path, name: &str, body: &str) {
        std::fs::write(dir.join(name), body).unwrap();
    }

    #[test]
    fn files_match_override_and_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let hook = |args: &str, when: &str, stages: &str| {
            format!(
                r#"{{"version":"1.0.0","hook":{{"path":"/bin/true","args":["true","{args}"]}},"when":{when},"stages":{stages}}}"#
            )
        };
        write(
            a.path(),
            "10-a.json",
            &hook("a", r#"{"always":true}"#, r#"["prestart","poststop"]"#),
        );
        write(
            a.path(),
            "20-b.json",
            &hook("old", r#"{"always":true}"#, r#"["prestart"]"#),
        );
        write(
            b.path(),
            "20-b.json",
            &hook("new", r#"{"commands":["^/bin/sh$"]}"#, r#"["prestart"]"#),
        );
        write(
            b.path(),
            "30-c.json",
            &hook("c", r#"{"annotations":{"^k$":"^v"}}"#, r#"["poststart"]"#),
        );
        write(b.path(), "notes.txt", "ignored");
        let dirs = vec![a.path().to_path_buf(), b.path().to_path_buf()];
        let mut ann = HashMap::new();
        ann.insert("k".to_string(), "value".to_string());
        let s = Subject {
            annotations: &ann,
            command: "/bin/sh",
            has_bind_mounts: false,
        };
        let v = serde_json::to_value(hooks_for(&dirs, &s).unwrap().unwrap()).unwrap();
        let args = |stage: &str| -> Vec<String> {
            v[stage]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|h| h["args"][1].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(args("prestart"), ["a", "new"]);
        assert_eq!(args("poststop"), ["a"]);
        assert_eq!(args("poststart"), ["c"]);
        let s = Subject {
            annotations: &HashMap::new(),
            command: "/bin/echo",
            has_bind_mounts: false,
        };
        let v = serde_json::to_value(hooks_for(&dirs, &s).unwrap().unwrap()).unwrap();
        assert_eq!(v["prestart"].as_array().unwrap().len(), 1);
        assert!(v.get("poststart").is_none());
    }

    #[test]
    fn when_is_an_and_of_conditions() {
        let a = tempfile::tempdir().unwrap();
        write(
            a.path(),
            "x.json",
            r#"{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{"always":true,"hasBindMounts":true},"stages":["prestart"]}"#,
        );
        let dirs = vec![a.path().to_path_buf()];
        let ann = HashMap::new();
        let mut s = Subject {
            annotations: &ann,
            command: "/x",
            has_bind_mounts: false,
        };
        assert!(hooks_for(&dirs, &s).unwrap().is_none());
        s.has_bind_mounts = true;
        assert!(hooks_for(&dirs, &s).unwrap().is_some());
    }

    #[test]
    fn broken_files_name_the_file() {
        let ann = HashMap::new();
        let s = Subject {
            annotations: &ann,
            command: "/x",
            has_bind_mounts: false,
        };
        for (body, why) in [
            ("{", "x.json"),
            (
                r#"{"version":"0.1.0","hook":{"path":"/bin/true"},"when":{"always":true},"stages":["prestart"]}"#,
                "version",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/nonexistent"},"when":{"always":true},"stages":["prestart"]}"#,
                "does not exist",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{},"stages":["prestart"]}"#,
                "when",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{"always":true},"stages":["precreate"]}"#,
                "unknown stage",
            ),
            (
                r#"{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{"commands":["a|b"]},"stages":["prestart"]}"#,
                "not supported",
            ),
        ] {
            let a = tempfile::tempdir().unwrap();
            write(a.path(), "x.json", body);
            let e = hooks_for(&[a.path().to_path_buf()], &s).unwrap_err();
            assert!(e.message.contains(why), "{body}: {}", e.message);
        }
    }
}
