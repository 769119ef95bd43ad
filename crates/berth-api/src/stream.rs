//! Streaming response bodies fed from blocking engine code, and Docker's
//! stdout/stderr multiplexing.

use axum::body::{Body, Bytes};
use std::io::{Read, Write};
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

/// A [`Write`] into a response body; wrap it in a `BufWriter` (each write
/// is one chunk).
pub struct BodyWriter(BlockingSender);

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send(buf.to_vec())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl BlockingSender {
    /// This sender as a buffered [`Write`].
    pub fn writer(self) -> std::io::BufWriter<BodyWriter> {
        std::io::BufWriter::with_capacity(64 * 1024, BodyWriter(self))
    }
}

/// Bytes from async code as a blocking [`Read`]: ends when every sender
/// is gone.
pub struct ChannelReader {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    pending: Bytes,
}

/// What feeds a [`ChannelReader`].
pub type ChunkSender = mpsc::Sender<std::io::Result<Bytes>>;

impl ChannelReader {
    /// A reader and the sender that feeds it.
    pub fn new() -> (ChunkSender, ChannelReader) {
        let (tx, rx) = mpsc::channel(32);
        let r = ChannelReader {
            rx,
            pending: Bytes::new(),
        };
        (tx, r)
    }

    /// The next chunk, `None` at the end (what is left of a partly read
    /// one first).
    pub fn next_chunk(&mut self) -> Option<std::io::Result<Bytes>> {
        if !self.pending.is_empty() {
            return Some(Ok(std::mem::take(&mut self.pending)));
        }
        self.rx.blocking_recv()
    }
}

impl ChannelReader {
    /// Put back bytes taken with [`ChannelReader::next_chunk`] but not used.
    pub fn push_front(&mut self, b: Bytes) {
        self.pending = b;
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pending.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.pending = b?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending = self.pending.slice(n..);
        Ok(n)
    }
}

/// A request body as a blocking [`Read`] (a task pumps it). A body that
/// fails midway reads as an error.
pub fn body_reader(body: Body) -> ChannelReader {
    let (tx, reader) = ChannelReader::new();
    tokio::spawn(async move {
        let mut data = body.into_data_stream();
        while let Some(chunk) = tokio_stream::StreamExt::next(&mut data).await {
            // An error must not read as a clean end of the body.
            let chunk = chunk.map_err(std::io::Error::other);
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    reader
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
