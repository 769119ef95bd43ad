//! The router: one file per resource.

mod archive;
mod attach;
mod containers;
mod create;
mod exec;
mod images;
mod inspect;
mod list;
mod logs;
mod manage;
mod networks;
mod registry;
mod system;
mod volumes;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::routing::{delete, get, post};
use axum::Router;
use std::collections::HashMap;

/// Query parameters as sent (Docker clients send few, and their boolean
/// spellings vary: `1`, `true`, `True`).
pub type Query = axum::extract::Query<HashMap<String, String>>;

/// A boolean query parameter; absent is `false`.
pub fn qbool(q: &HashMap<String, String>, key: &str) -> ApiResult<bool> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "True" | "TRUE" | "t") => Ok(true),
        Some("0" | "false" | "False" | "FALSE" | "f") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "invalid boolean for {key}: {v:?}"
        ))),
    }
}

/// A numeric query parameter; absent or empty is `None`.
pub fn qnum<T: std::str::FromStr>(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<T>> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
    }
}

/// Docker's `filters` parameter: JSON `{"key": ["v1", "v2"]}` (or the old
/// `{"key": {"v1": true}}` form), flattened to `(key, value)` pairs.
pub fn filters(q: &HashMap<String, String>) -> ApiResult<Vec<(String, String)>> {
    let Some(raw) = q.get("filters").filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let v: serde_json::Value = serde_json::from_str(raw)
        .map_err(|e| ApiError::bad_request(format!("invalid filters: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request("invalid filters: not a JSON object"))?;
    let mut out = Vec::new();
    for (k, vals) in obj {
        match vals {
            serde_json::Value::Array(a) => {
                for x in a {
                    let s = x.as_str().ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "invalid filters: {k} values must be strings"
                        ))
                    })?;
                    out.push((k.clone(), s.to_string()));
                }
            }
            serde_json::Value::Object(m) => {
                out.extend(
                    m.iter()
                        .filter(|(_, on)| on.as_bool() == Some(true))
                        .map(|(s, _)| (k.clone(), s.clone())),
                );
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filters: {k} must be a list"
                )))
            }
        }
    }
    Ok(out)
}

/// Every route. The caller wraps it in `version::rewrite` (outside the
/// router, so it runs before routing).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/_ping", get(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/events", get(system::events))
        .route("/containers/json", get(list::list))
        .route("/containers/create", post(create::create))
        .route("/containers/{id}/json", get(inspect::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/restart", post(containers::restart))
        .route("/containers/{id}/wait", post(containers::wait))
        .route("/containers/{id}/logs", get(logs::logs))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/attach/ws", get(attach::attach_ws))
        .route("/containers/{id}/resize", post(attach::resize))
        .route("/containers/{id}/exec", post(exec::create))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/top", get(manage::top))
        .route("/containers/{id}/stats", get(manage::stats))
        .route("/containers/{id}/pause", post(manage::pause))
        .route("/containers/{id}/unpause", post(manage::unpause))
        .route("/containers/{id}/rename", post(manage::rename))
        .route("/containers/{id}/update", post(manage::update))
        .route("/containers/prune", post(manage::prune))
        .route("/containers/{id}/changes", get(archive::changes))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/containers/{id}", delete(containers::remove))
        .route("/images/json", get(images::list))
        .route("/images/get", get(images::get_many))
        .route("/images/load", post(images::load))
        .route("/images/prune", post(images::prune))
        .route("/images/create", post(registry::create))
        .route("/auth", post(registry::auth))
        .route(
            "/images/{*rest}",
            get(images::get_action)
                .post(images::post_action)
                .delete(images::remove),
        )
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/networks", get(networks::list))
        .route("/networks/create", post(networks::create))
        .route("/networks/prune", post(networks::prune))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/system/df", get(system::df))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::NOT_FOUND,
        message: format!("page not found: {} is not served by berth yet", uri.path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters() {
        let mut q = HashMap::new();
        q.insert(
            "filters".to_string(),
            r#"{"status":["running","exited"],"label":{"a=b":true}}"#.to_string(),
        );
        let f = filters(&q).unwrap();
        assert!(f.contains(&("status".into(), "running".into())));
        assert!(f.contains(&("label".into(), "a=b".into())));
        q.insert("filters".into(), "[1]".into());
        assert!(filters(&q).is_err());
        q.insert("all".into(), "True".into());
        assert!(qbool(&q, "all").unwrap());
        q.insert("all".into(), "maybe".into());
        assert!(qbool(&q, "all").is_err());
    }
}
