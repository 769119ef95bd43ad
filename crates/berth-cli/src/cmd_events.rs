//! `events`: list and stream the event log (Podman's flags and shapes).

use crate::format::{render_template, OutputFormat};
use crate::report::{fail, fail_any, Exit};
use berth_core::{Event, EventsOptions, Runtime};
use clap::Args;
use std::io::Write;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show events since this time (RFC 3339, Unix seconds or a duration ago: 10m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show events until this time; ends the stream.
    #[arg(long)]
    pub until: Option<String>,
    /// Filter: container=, event=, image=, type=, label=.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// `json` or a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Keep streaming new events (`--stream=false` to list and exit).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub stream: bool,
}

/// Podman's default line: `TIME TYPE STATUS ID (attributes)`.
fn plain_line(ev: &Event) -> String {
    let time = ev
        .time
        .parse::<jiff::Timestamp>()
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC").to_string())
        .unwrap_or_else(|_| ev.time.clone());
    let mut attrs: Vec<String> = ev
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(code) = ev.exit_code {
        attrs.push(format!("containerExitCode={code}"));
    }
    format!(
        "{time} {} {} {} ({})",
        ev.kind,
        ev.status,
        ev.id,
        attrs.join(", ")
    )
}

pub fn events(rt: &Runtime, a: &EventsArgs) -> Exit {
    let mut opts = EventsOptions {
        filters: a.filter.clone(),
        stream: a.stream,
        ..Default::default()
    };
    for (flag, slot) in [(&a.since, &mut opts.since), (&a.until, &mut opts.until)] {
        if let Some(s) = flag {
            match berth_core::units::parse_time(s) {
                Ok(t) => *slot = Some(t),
                Err(e) => return fail(&e),
            }
        }
    }
    let format = OutputFormat::parse(a.format.as_deref());
    let template = match &format {
        OutputFormat::Template { source, .. } => Some(source.clone()),
        _ => None,
    };
    let mut out = std::io::stdout();
    let mut template_error = None;
    let result = rt.events(&opts, |ev| {
        let line = match (&format, &template) {
            (OutputFormat::Json, _) => serde_json::to_string(ev).map_err(std::io::Error::other)?,
            (_, Some(t)) => match serde_json::to_value(ev)
                .map_err(anyhow::Error::from)
                .and_then(|v| render_template(t, false, &[], &[v]))
            {
                Ok(s) => s.trim_end_matches('\n').to_string(),
                Err(e) => {
                    template_error = Some(e);
                    return Err(std::io::Error::other("template"));
                }
            },
            _ => plain_line(ev),
        };
        writeln!(out, "{line}")?;
        out.flush()
    });
    if let Some(e) = template_error {
        return fail_any(&e);
    }
    match result {
        Ok(()) => 0,
        Err(e) => fail(&e),
    }
}
