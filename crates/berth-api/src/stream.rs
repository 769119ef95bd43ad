//! Streaming response bodies fed from blocking engine code, and Docker's
//! stdout/stderr multiplexing.

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Docker's stream ids in the 8-byte frame header.
pub const STDOUT: u8 = 1;
/// See [`STDOUT`].
pub const STDERR: u8 = 2;

/// One multiplexed frame: `[stream, 0, 0, 0, len (u32 BE)]` + payload.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.push(stream);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A sender usable from blocking code; `send` fails once the client is
/// gone, which is how blocking producers (log follow, events) learn to stop.
#[derive(Clone)]
pub struct BlockingSender(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl BlockingSender {
    /// Queue `data` for the client (blocking while the client is slow).
    pub fn send(&self, data: Vec<u8>) -> std::io::Result<()> {
        self.0
            .blocking_send(Ok(Bytes::from(data)))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }

    /// True once the client went away.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A response body and the sender that feeds it.
pub fn channel_body() -> (BlockingSender, Body) {
    // A few frames of slack: enough to keep runc output flowing, small
    // enough that a stalled client applies back-pressure.
    let (tx, rx) = mpsc::channel(32);
    (
        BlockingSender(tx),
        Body::from_stream(ReceiverStream::new(rx)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_header() {
        assert_eq!(frame(STDERR, b"hi"), [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
    }
}
