//! API version negotiation and request screening, both done before routing
//! (a `Router::layer` middleware would only run after the route matched, so
//! this wraps the whole router instead).

use crate::error::ApiError;
use crate::params::screen;
use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Oldest API version served (what docker-py and old CLIs ask for).
pub const MIN_API_VERSION: (u32, u32) = (1, 24);
/// Newest API version served; clients negotiate down to it from `/_ping`.
pub const MAX_API_VERSION: (u32, u32) = (1, 47);

/// The API version a request asked for (its `/vX.Y` prefix, else the newest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion(pub u32, pub u32);

/// `MAX_API_VERSION` as Docker prints it.
pub fn max_version_string() -> String {
    format!("{}.{}", MAX_API_VERSION.0, MAX_API_VERSION.1)
}

/// `MIN_API_VERSION` as Docker prints it.
pub fn min_version_string() -> String {
    format!("{}.{}", MIN_API_VERSION.0, MIN_API_VERSION.1)
}

/// A `(major, minor)` API version.
pub type Version = (u32, u32);

/// Split `/v1.41/containers/json` into `(Some((1, 41)), "/containers/json")`.
/// A path without a version prefix comes back unchanged. `Err` for a
/// prefix that looks like a version but does not parse.
pub fn split_version(path: &str) -> Result<(Option<Version>, &str), String> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((None, path));
    };
    let (ver, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if !ver.starts_with(|c: char| c.is_ascii_digit()) {
        // `/volumes/...` and friends are not version prefixes.
        return Ok((None, path));
    }
    let parsed = ver
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some(v) => Ok((Some(v), tail)),
        None => Err(format!("invalid API version {ver:?}")),
    }
}

/// Check a requested version against the served range (Docker's wording).
pub fn check_version(v: (u32, u32)) -> Result<(), String> {
    if v < MIN_API_VERSION {
        return Err(format!(
            "client version {}.{} is too old. Minimum supported API version is {}, \
             please upgrade your client to a newer version",
            v.0,
            v.1,
            min_version_string()
        ));
    }
    if v > MAX_API_VERSION {
        return Err(format!(
            "client version {}.{} is too new. Maximum supported API version is {}",
            v.0,
            v.1,
            max_version_string()
        ));
    }
    Ok(())
}

/// Middleware: refuse dangerous parameters, strip the version prefix and
/// record the version, then route.
pub async fn rewrite(mut req: Request, next: Next) -> Response {
    if let Err(msg) = screen(req.uri()) {
        return ApiError::bad_request(msg).into_response();
    }
    let (version, tail) = match split_version(req.uri().path()) {
        Ok(v) => v,
        Err(msg) => return ApiError::bad_request(msg).into_response(),
    };
    if let Some(v) = version {
        if let Err(msg) = check_version(v) {
            return ApiError::bad_request(msg).into_response();
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{tail}?{q}"),
            None => tail.to_string(),
        };
        match pq.parse::<Uri>() {
            Ok(uri) => *req.uri_mut() = uri,
            Err(e) => return ApiError::bad_request(format!("bad path: {e}")).into_response(),
        }
    }
    let v = version.unwrap_or(MAX_API_VERSION);
    req.extensions_mut().insert(ApiVersion(v.0, v.1));
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    headers.insert(
        "API-Version",
        axum::http::HeaderValue::from_static(MAX_VERSION_HEADER),
    );
    headers.insert("Ostype", axum::http::HeaderValue::from_static("linux"));
    headers.insert(
        "Server",
        axum::http::HeaderValue::from_static("berth (linux)"),
    );
    resp
}

/// `MAX_API_VERSION` as a `'static` header value (checked by a test).
const MAX_VERSION_HEADER: &str = "1.47";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_versions() {
        assert_eq!(
            split_version("/v1.41/containers/json").unwrap(),
            (Some((1, 41)), "/containers/json")
        );
        assert_eq!(split_version("/_ping").unwrap(), (None, "/_ping"));
        assert_eq!(split_version("/volumes").unwrap(), (None, "/volumes"));
        assert_eq!(split_version("/v1.24").unwrap(), (Some((1, 24)), "/"));
        assert!(split_version("/v1.x/info").is_err());
    }

    #[test]
    fn version_range() {
        assert!(check_version((1, 24)).is_ok());
        assert!(check_version((1, 47)).is_ok());
        assert!(check_version((1, 23)).is_err());
        assert!(check_version((1, 48)).is_err());
        assert_eq!(MAX_VERSION_HEADER, max_version_string());
    }
}
