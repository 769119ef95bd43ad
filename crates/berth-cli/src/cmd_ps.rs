//! `ps`: Podman's columns, filters and formats.

use crate::format::{align, human_duration, print_json, render_template, since, OutputFormat};
use crate::report::{fail, fail_any, Exit};
use berth_core::inspect::{health_status, status_word};
use berth_core::{ContainerRecord, ContainerState, Runtime};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers, not only running ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Print only IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate IDs and commands.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter: status=, name=, id=, label=, health=.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// table, json or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Show only the latest container.
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Show the last N containers.
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
}

/// `name=` filters match like a regex would for plain text, with `^`/`$`
/// anchors honoured.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, p) = pattern
        .strip_prefix('^')
        .map(|p| (true, p))
        .unwrap_or((false, pattern));
    let (end, p) = p.strip_suffix('$').map(|p| (true, p)).unwrap_or((false, p));
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

/// Whether `rec` passes one `KEY=VALUE` filter (shared by `ps` and `start --all`).
pub(crate) fn matches(rec: &ContainerRecord, filter: &str) -> Result<bool, String> {
    let (key, value) = filter
        .split_once('=')
        .ok_or_else(|| format!("invalid filter {filter:?}: expected KEY=VALUE"))?;
    Ok(match key {
        "status" => {
            let word = status_word(rec.state.state);
            if ContainerState::parse(value).is_none() && value != "unknown" {
                return Err(format!("invalid status filter {value:?}"));
            }
            word == value || rec.state.state.as_str() == value
        }
        "name" => name_matches(value, &rec.config.name),
        "id" => rec.config.id.starts_with(value),
        // `ps` resolves pod names to full IDs before filtering.
        "pod" => rec.config.pod.pod_id.as_deref() == Some(value),
        "label" => match value.split_once('=') {
            Some((k, v)) => rec.config.labels.get(k).is_some_and(|x| x == v),
            None => rec.config.labels.contains_key(value),
        },
        "restart-policy" => {
            let p = &rec.config.restart_policy;
            (if p.is_set() { p.name.as_str() } else { "no" }) == value
        }
        "ancestor" => {
            rec.config.image_name.contains(value) || rec.config.image_id.starts_with(value)
        }
        "health" => {
            if !["healthy", "unhealthy", "starting", "none"].contains(&value) {
                return Err(format!(
                    "invalid health filter {value:?}: use healthy, unhealthy, starting or none"
                ));
            }
            health_status(rec).unwrap_or("none") == value
        }
        "exited" => {
            rec.state.state == ContainerState::Exited
                && rec.state.exit_code.map(|c| c.to_string()) == Some(value.into())
        }
        _ => {
            return Err(format!(
                "invalid filter {key:?}: supported are status, name, id, pod, label, ancestor, exited, health, restart-policy"
            ))
        }
    })
}

/// Podman's STATUS column.
fn status_text(rec: &ContainerRecord) -> String {
    let s = &rec.state;
    match s.state {
        ContainerState::Running => {
            let up = human_duration(s.started_at.map(since).unwrap_or(0));
            match health_status(rec) {
                Some(h) => format!("Up {up} ({h})"),
                None => format!("Up {up}"),
            }
        }
        ContainerState::Paused => "Paused".into(),
        ContainerState::Stopping => "Stopping".into(),
        ContainerState::Exited | ContainerState::Stopped => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            human_duration(s.finished_at.map(since).unwrap_or(0))
        ),
        ContainerState::Configured | ContainerState::Created => "Created".into(),
        ContainerState::Removing => "Removing".into(),
    }
}

/// One row, with the field names Podman's templates use.
/// The COMMAND column: truncated to 17 characters unless `no_trunc`.
fn command_column(rec: &ContainerRecord, no_trunc: bool) -> String {
    let command = rec.config.args.join(" ");
    if !no_trunc && command.chars().count() > 17 {
        return command.chars().take(17).collect::<String>() + "...";
    }
    command
}

/// The CONTAINER ID column.
fn id_column(rec: &ContainerRecord, no_trunc: bool) -> &str {
    if no_trunc {
        &rec.config.id
    } else {
        &rec.config.id[..12]
    }
}

fn row(rec: &ContainerRecord, no_trunc: bool) -> Value {
    let c = &rec.config;
    let command = command_column(rec, no_trunc);
    let id = id_column(rec, no_trunc);
    json!({
        "ID": id,
        "Image": c.image_name,
        "ImageID": c.image_id,
        "Command": command,
        "CreatedHuman": format!("{} ago", human_duration(since(c.created))),
        "CreatedAt": c.created.to_string(),
        "Created": c.created.as_second(),
        "RunningFor": human_duration(since(c.created)),
        "Status": status_text(rec),
        "State": status_word(rec.state.state),
        "Names": c.name,
        "Ports": berth_core::network::ports_column(&c.net),
        "Networks": c.net.networks.keys().collect::<Vec<_>>(),
        "Labels": c.labels,
        "Mounts": c.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "ExitCode": rec.state.exit_code.unwrap_or(0),
        "Exited": rec.state.state == ContainerState::Exited,
        "Pid": rec.state.pid,
        "Pod": "",
        "PodName": "",
        "Size": "",
        "AutoRemove": c.auto_remove,
    })
}

/// Podman's `ps --format json` element.
fn json_row(rec: &ContainerRecord) -> Value {
    let c = &rec.config;
    let s = &rec.state;
    json!({
        "AutoRemove": c.auto_remove,
        "Command": c.args,
        "CreatedAt": format!("{} ago", human_duration(since(c.created))),
        "Created": c.created.as_second(),
        "Exited": s.state == ContainerState::Exited,
        "ExitedAt": s.finished_at.map(|t| t.as_second()).unwrap_or(-62135596800),
        "ExitCode": s.exit_code.unwrap_or(0),
        "Id": c.id,
        "Image": c.image_name,
        "ImageID": c.image_id,
        "IsInfra": false,
        "Labels": if c.labels.is_empty() { Value::Null } else { json!(c.labels) },
        "Mounts": c.mounts.iter().map(|m| m.destination.clone()).collect::<Vec<_>>(),
        "Names": [c.name],
        "Namespaces": {},
        "Networks": c.net.networks.keys().collect::<Vec<_>>(),
        "Pid": s.pid,
        "Pod": "",
        "PodName": "",
        "Ports": if c.net.ports.is_empty() { Value::Null } else { json!(c.net.ports) },
        "Size": null,
        "StartedAt": s.started_at.map(|t| t.as_second()).unwrap_or(-62135596800),
        "State": status_word(s.state),
        "Status": status_text(rec),
    })
}

const HEADERS: [(&str, &str); 8] = [
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedHuman", "CREATED"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
];

pub fn ps(rt: &Runtime, a: &PsArgs) -> Exit {
    let mut list = match rt.containers() {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let show_all = a.all || a.latest || a.last.is_some() || !a.filter.is_empty();
    let filters: Vec<String> = a
        .filter
        .iter()
        .map(|f| match f.strip_prefix("pod=") {
            Some(p) => format!("pod={}", rt.pod(p).map(|p| p.id).unwrap_or_default()),
            None => f.clone(),
        })
        .collect();
    let mut kept = Vec::new();
    for rec in list.drain(..) {
        if !show_all && !rec.state.state.is_active() {
            continue;
        }
        let mut ok = true;
        for f in &filters {
            match matches(&rec, f) {
                Ok(m) => ok &= m,
                Err(msg) => {
                    eprintln!("Error: {msg}");
                    return 125;
                }
            }
        }
        if ok {
            kept.push(rec);
        }
    }
    // Newest first, as Podman lists.
    kept.sort_by_key(|r| std::cmp::Reverse(r.config.created));
    if a.latest {
        kept.truncate(1);
    }
    if let Some(n) = a.last {
        kept.truncate(n);
    }
    if a.quiet {
        for r in &kept {
            println!(
                "{}",
                if a.no_trunc {
                    &r.config.id[..]
                } else {
                    &r.config.id[..12]
                }
            );
        }
        return 0;
    }
    let result = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Json => print_json(&kept.iter().map(json_row).collect::<Vec<_>>()),
        OutputFormat::Template { source, table } => {
            let rows: Vec<Value> = kept.iter().map(|r| row(r, a.no_trunc)).collect();
            render_template(&source, table, &HEADERS, &rows).map(|s| print!("{s}"))
        }
        OutputFormat::Table => {
            let mut text =
                String::from("CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n");
            // Straight to text: building template rows for 1000 containers
            // costs more than everything else `ps` does.
            for r in &kept {
                let created = format!("{} ago", human_duration(since(r.config.created)));
                let ports = berth_core::network::ports_column(&r.config.net);
                let cols = [
                    id_column(r, a.no_trunc),
                    &r.config.image_name,
                    &command_column(r, a.no_trunc),
                    &created,
                    &status_text(r),
                    &ports,
                    &r.config.name,
                ];
                text.push_str(&cols.join("\t"));
                text.push('\n');
            }
            print!("{}", align(&text));
            Ok(())
        }
    };
    // The process exits right after printing: freeing thousands of
    // records one by one would only cost time (measured ~20% of `ps -a`
    // at 1000 containers).
    std::mem::forget(kept);
    match result {
        Ok(()) => 0,
        Err(e) => fail_any(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_filter_anchors() {
        assert!(name_matches("web", "my-web-1"));
        assert!(name_matches("^web", "web-1"));
        assert!(!name_matches("^web$", "web-1"));
        assert!(name_matches("1$", "web-1"));
    }
}
