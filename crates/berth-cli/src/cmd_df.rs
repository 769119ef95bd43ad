//! `system df`, `system prune` and `container prune` (Podman's output).

use crate::cmd_system::{DfArgs, SystemPruneArgs};
use crate::format::{human_size, print_json, render_template, OutputFormat};
use crate::report::{confirm, fail, fail_any, Exit};
use berth_core::{DiskUsage, Runtime};
use serde_json::{json, Value};

/// Podman's df sizes: go-units without the space ("4.346MB").
fn size(bytes: u64) -> String {
    human_size(bytes).replace(' ', "")
}

fn row(u: &DiskUsage) -> Value {
    let pct = (u.reclaimable * 100).checked_div(u.size).unwrap_or(0);
    json!({
        "Type": u.kind, "Total": u.total, "Active": u.active,
        "Size": size(u.size), "Reclaimable": format!("{} ({pct}%)", size(u.reclaimable)),
        "RawSize": u.size, "RawReclaimable": u.reclaimable,
    })
}

/// `system df`.
pub fn df(rt: &Runtime, a: &DfArgs) -> Exit {
    let rows: Vec<Value> = match rt.disk_usage() {
        Ok(u) => u.iter().map(row).collect(),
        Err(e) => return fail(&e),
    };
    let printed = match OutputFormat::parse(a.format.as_deref()) {
        OutputFormat::Json => print_json(&rows),
        OutputFormat::Template { source, table } => {
            render_template(&source, table, &[], &rows).map(|s| print!("{s}"))
        }
        OutputFormat::Table => render_template(
            "{{.Type}}\\t{{.Total}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}",
            true,
            &[
                ("Type", "TYPE"),
                ("Total", "TOTAL"),
                ("Active", "ACTIVE"),
                ("Size", "SIZE"),
                ("Reclaimable", "RECLAIMABLE"),
            ],
            &rows,
        )
        .map(|s| print!("{s}")),
    };
    match printed {
        Ok(()) => 0,
        Err(e) => fail_any(&e),
    }
}

/// `system prune`: Podman's "Deleted ..." sections and the reclaimed total.
pub fn prune(rt: &Runtime, a: &SystemPruneArgs) -> Exit {
    let mut what = String::from(":\n\t- all stopped containers\n");
    what.push_str(if a.all {
        "\t- all images not used by at least one container\n"
    } else {
        "\t- all dangling images\n"
    });
    if a.volumes {
        what.push_str("\t- all volumes not used by at least one container\n");
    }
    what.push_str("\t- leftovers of interrupted pulls, loads and commits\n");
    if !a.force && !confirm(&what) {
        return 0;
    }
    let report = match rt.prune_system(a.all, a.volumes) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    for (title, items) in [
        ("Containers", &report.containers),
        ("Volumes", &report.volumes),
        ("Images", &report.images),
        ("Leftover Layers", &report.leftovers),
    ] {
        if !items.is_empty() {
            println!("Deleted {title}");
            items.iter().for_each(|i| println!("{i}"));
        }
    }
    println!("Total reclaimed space: {}", size(report.reclaimed));
    0
}

/// `container prune`: the removed containers' IDs.
pub fn prune_containers(rt: &Runtime, force: bool) -> Exit {
    if !force && !confirm(" all non running containers.") {
        return 0;
    }
    match rt.prune_containers() {
        Ok(ids) => {
            ids.iter().for_each(|i| println!("{i}"));
            0
        }
        Err(e) => fail(&e),
    }
}
