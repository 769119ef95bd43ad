//! Output in Podman's shapes: Go-tabwriter tables, `--format json`, and Go
//! templates (`--format '{{.ID}} {{.Names}}'`, `table {{.ID}}\t...`), plus
//! go-units' human durations and sizes so text matches Podman's.

use anyhow::{anyhow, Result};
use gotmpl::{Template, Value};
use std::io::Write;

pub use berth_core::units::human_duration;

/// Seconds from `t` until now.
pub fn since(t: jiff::Timestamp) -> i64 {
    jiff::Timestamp::now().as_second() - t.as_second()
}

/// go-units `HumanSize` (decimal, 3 significant digits): "4.1 MB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    // %.4g then trim, as go-units does.
    let s = format!("{:.4}", v);
    let digits_before = s.split('.').next().map(str::len).unwrap_or(1);
    let prec = 4usize.saturating_sub(digits_before);
    let s = format!("{:.*}", prec, v);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s} {}", UNITS[i])
}

/// How the user asked for output.
pub enum OutputFormat {
    /// Podman's default table.
    Table,
    /// `--format json`.
    Json,
    /// A Go template; `table` prefix means a header row and aligned columns.
    Template { source: String, table: bool },
}

impl OutputFormat {
    /// Parse a `--format` value.
    pub fn parse(s: Option<&str>) -> OutputFormat {
        match s.map(str::trim) {
            None | Some("") | Some("table") => OutputFormat::Table,
            Some("json") | Some("{{json .}}") => OutputFormat::Json,
            Some(t) => match t.strip_prefix("table ") {
                Some(rest) => OutputFormat::Template {
                    source: rest.to_string(),
                    table: true,
                },
                None => OutputFormat::Template {
                    source: t.to_string(),
                    table: false,
                },
            },
        }
    }
}

/// Turn a template value back into JSON (for the `json` function).
fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Uint(u) => (*u).into(),
        Value::Float(f) => (*f).into(),
        Value::String(s) => s.as_ref().into(),
        Value::List(l) => l.iter().map(to_json).collect(),
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| (k.to_string(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.to_string().into(),
    }
}

fn arg_str(args: &[Value], i: usize) -> String {
    args.get(i).map(|v| v.to_string()).unwrap_or_default()
}

/// Compile a template with Podman's extra functions
/// (`json join lower upper title truncate`).
pub fn compile(source: &str) -> Result<Template> {
    // `\t` and `\n` typed on a command line arrive as two characters.
    let source = source.replace("\\t", "\t").replace("\\n", "\n");
    let t = Template::new("format")
        .func("json", |a: &[Value]| {
            Ok(Value::from(
                serde_json::to_string(&to_json(a.first().unwrap_or(&Value::Nil)))
                    .unwrap_or_default(),
            ))
        })
        .func("upper", |a: &[Value]| {
            Ok(Value::from(arg_str(a, 0).to_uppercase()))
        })
        .func("lower", |a: &[Value]| {
            Ok(Value::from(arg_str(a, 0).to_lowercase()))
        })
        .func("title", |a: &[Value]| {
            let s = arg_str(a, 0);
            let mut c = s.chars();
            Ok(Value::from(
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default(),
            ))
        })
        .func("join", |a: &[Value]| {
            let sep = arg_str(a, 1);
            let items: Vec<String> = match a.first() {
                Some(Value::List(l)) => l.iter().map(|v| v.to_string()).collect(),
                Some(v) => vec![v.to_string()],
                None => vec![],
            };
            Ok(Value::from(items.join(&sep)))
        })
        .func("truncate", |a: &[Value]| {
            let n = arg_str(a, 1).parse::<usize>().unwrap_or(usize::MAX);
            Ok(Value::from(
                arg_str(a, 0).chars().take(n).collect::<String>(),
            ))
        })
        .parse(&source)
        .map_err(|e| anyhow!("template parsing error: {e}"))?;
    Ok(t)
}

/// Render `rows` (serde-serializable, PascalCase keys) with a template.
pub fn render_template(
    source: &str,
    table: bool,
    headers: &[(&str, &str)],
    rows: &[serde_json::Value],
) -> Result<String> {
    let t = compile(source)?;
    let mut out = String::new();
    if table {
        // The header row: the template with each field replaced by its title.
        let mut header = source.replace("\\t", "\t");
        for (field, title) in headers {
            header = header.replace(&format!("{{{{.{field}}}}}"), title);
        }
        let mut cleaned = String::new();
        let mut rest = header.as_str();
        while let Some(start) = rest.find("{{") {
            cleaned.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .map(|e| start + e + 2)
                .unwrap_or(rest.len());
            let inner = rest[start + 2..end.saturating_sub(2)]
                .trim()
                .trim_start_matches('.');
            cleaned.push_str(&inner.to_uppercase());
            rest = &rest[end..];
        }
        cleaned.push_str(rest);
        out.push_str(&cleaned);
        out.push('\n');
    }
    for row in rows {
        let v = gotmpl::to_value(row).map_err(|e| anyhow!("template data: {e}"))?;
        let line = t
            .execute_to_string(&v)
            .map_err(|e| anyhow!("template execution error: {e}"))?;
        out.push_str(&line);
        out.push('\n');
    }
    Ok(if table { align(&out) } else { out })
}

/// Align tab-separated columns like Go's tabwriter with two spaces of
/// padding, which is how Podman's tables are laid out.
pub fn align(text: &str) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new()).padding(2).minwidth(0);
    let _ = tw.write_all(text.as_bytes());
    let _ = tw.flush();
    String::from_utf8_lossy(&tw.into_inner().unwrap_or_default()).into_owned()
}

/// Print one document (`version`, `info`) as `json`, through a Go
/// template, or with `plain` when no format was asked for; returns the exit
/// code.
pub fn print_document(
    format: Option<&str>,
    doc: &serde_json::Value,
    plain: impl FnOnce(&serde_json::Value),
) -> i32 {
    let printed = match format {
        Some("json") => print_json(doc),
        Some(t) => render_template(t, false, &[], std::slice::from_ref(doc)).map(|s| print!("{s}")),
        None => {
            plain(doc);
            Ok(())
        }
    };
    match printed {
        Ok(()) => 0,
        Err(e) => crate::report::fail_any(&e),
    }
}

/// Print JSON the way Podman does (indented, trailing newline).
pub fn print_json(v: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_234_567), "1.235 MB");
        assert_eq!(human_size(4_100_000), "4.1 MB");
    }

    #[test]
    fn templates_and_tables() {
        let rows = vec![serde_json::json!({"ID": "abc", "Names": "web", "Labels": {"a": "1"}})];
        assert_eq!(
            render_template("{{.ID}} {{.Names}}", false, &[], &rows).unwrap(),
            "abc web\n"
        );
        let t = render_template(
            "{{.ID}}\\t{{.Names}}",
            true,
            &[("ID", "CONTAINER ID")],
            &rows,
        )
        .unwrap();
        assert_eq!(t, "CONTAINER ID  NAMES\nabc           web\n");
        assert_eq!(
            render_template("{{json .Labels}}", false, &[], &rows).unwrap(),
            "{\"a\":\"1\"}\n"
        );
        assert_eq!(
            render_template("{{upper .Names}}", false, &[], &rows).unwrap(),
            "WEB\n"
        );
        assert!(render_template("{{.ID", false, &[], &rows).is_err());
    }
}
