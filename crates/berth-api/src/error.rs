//! Docker's error responses: `{"message": ...}` with the status a Docker
//! client branches on (docker-py raises `NotFound` on 404, the CLI retries a
//! pull on 404 from create, ...).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use berth_core::{Error, ErrorKind};

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The one-line message.
    pub message: String,
}

impl ApiError {
    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 500 for failures of the service itself (a panicked worker...).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
        }
    }
}

/// The one mapping of berth's error kinds to HTTP statuses.
pub fn status_of(kind: &ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::NoSuchContainer | ErrorKind::NoSuchImage => StatusCode::NOT_FOUND,
        ErrorKind::NameInUse | ErrorKind::StateImproper { .. } | ErrorKind::InUse => {
            StatusCode::CONFLICT
        }
        // Docker answers a bad request, an ambiguous prefix and a command
        // that cannot be run (its "executable file not found") with 400.
        ErrorKind::InvalidInput
        | ErrorKind::AmbiguousId { .. }
        | ErrorKind::CannotInvoke
        | ErrorKind::CommandNotFound => StatusCode::BAD_REQUEST,
        ErrorKind::LockTimeout
        | ErrorKind::Runtime
        | ErrorKind::Storage
        | ErrorKind::Database
        | ErrorKind::Io
        | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError {
            status: status_of(&e.kind),
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_docker_statuses() {
        assert_eq!(
            status_of(&ErrorKind::NoSuchContainer),
            StatusCode::NOT_FOUND
        );
        assert_eq!(status_of(&ErrorKind::NoSuchImage), StatusCode::NOT_FOUND);
        assert_eq!(status_of(&ErrorKind::NameInUse), StatusCode::CONFLICT);
        let wrong_state = ErrorKind::StateImproper {
            state: "running".into(),
            op: "remove".into(),
        };
        assert_eq!(status_of(&wrong_state), StatusCode::CONFLICT);
        assert_eq!(status_of(&ErrorKind::InvalidInput), StatusCode::BAD_REQUEST);
        assert_eq!(
            status_of(&ErrorKind::Database),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
