//! The client's side of an attach or exec relay, whatever carries it (a
//! hijacked connection in `hijack.rs`, a websocket in `websocket.rs`).
//!
//! The relay itself is berth-core's blocking `AttachStream::relay`, run on
//! the blocking pool; it talks to the client through two bounded channels:
//! [`Pipes`] is the relay's end, [`ClientEnd`] the transport's, whose async
//! tasks copy to and from the connection.

use crate::stream::{frame, ChannelReader, ChunkSender};
use axum::body::Bytes;
use berth_core::container::attach::{filter_detach, RelayCloser};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// A relay's pipes and the transport's end of them. `raw` output passes
/// the process's bytes as they are; otherwise each write becomes one of
/// Docker's 8-byte multiplexed frames.
pub fn pipes(raw: bool) -> (Pipes, ClientEnd) {
    let (out_tx, from_relay) = mpsc::channel::<Bytes>(32);
    let (to_relay, from_client) = ChannelReader::new();
    let pipes = Pipes {
        input: Input {
            from_client,
            detach: None,
        },
        output: Output {
            tx: out_tx,
            raw,
            on_gone: Arc::default(),
        },
        client_done: Arc::default(),
    };
    let client = ClientEnd {
        to_relay,
        from_relay,
        client_done: pipes.client_done.clone(),
    };
    (pipes, client)
}

/// The transport's side: it feeds the client's bytes into `to_relay`
/// (dropping it is the end of the client's input), sends what arrives on
/// `from_relay` (which ends once the relay finished), and sets
/// `client_done` when the client's side of the connection ended.
pub struct ClientEnd {
    pub to_relay: ChunkSender,
    pub from_relay: mpsc::Receiver<Bytes>,
    pub client_done: Arc<AtomicBool>,
}

/// The client's side of a relay, for blocking code.
pub struct Pipes {
    /// What the client sends (its stdin); ends when it half-closes or goes.
    pub input: Input,
    /// Where output for the client goes.
    pub output: Output,
    /// Set once the client's side of the connection ended (it went away,
    /// or half-closed after its stdin ended).
    pub client_done: Arc<AtomicBool>,
}

/// The client's bytes as a blocking [`Read`].
pub struct Input {
    from_client: ChannelReader,
    detach: Option<Detach>,
}

/// Docker's server-side detach: the key sequence, how much of it was
/// typed, and what ends the relay.
struct Detach {
    keys: Vec<u8>,
    matched: usize,
    close: RelayCloser,
    detached: Arc<AtomicBool>,
}

impl Input {
    /// End the relay through `close` when the client types `keys` (the
    /// keys themselves are not passed on); the returned flag tells whether
    /// that happened.
    pub fn detach_on(&mut self, keys: Vec<u8>, close: RelayCloser) -> Arc<AtomicBool> {
        let detached = Arc::new(AtomicBool::new(false));
        if !keys.is_empty() {
            self.detach = Some(Detach {
                keys,
                matched: 0,
                close,
                detached: detached.clone(),
            });
        }
        detached
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(d) = self.detach.as_mut() else {
            return self.from_client.read(buf);
        };
        loop {
            let Some(chunk) = self.from_client.next_chunk() else {
                return Ok(0);
            };
            let (pass, detached) = filter_detach(&d.keys, &mut d.matched, &chunk?);
            if detached {
                d.detached.store(true, Ordering::SeqCst);
                d.close.close();
                return Ok(0);
            }
            if pass.is_empty() {
                continue;
            }
            // `buf` is the relay's 8 KiB copy buffer; chunks are at most
            // 16 KiB, so keep what does not fit for the next read.
            let n = buf.len().min(pass.len());
            buf[..n].copy_from_slice(&pass[..n]);
            if n < pass.len() {
                self.from_client
                    .push_front(Bytes::copy_from_slice(&pass[n..]));
            }
            return Ok(n);
        }
    }
}

/// Output for the client: raw (a tty, or a websocket whose frames keep
/// the writes apart), else multiplexed frames.
#[derive(Clone)]
pub struct Output {
    tx: mpsc::Sender<Bytes>,
    raw: bool,
    /// Ends the relay when the client is found gone, so its thread and its
    /// connection to the monitor do not wait for the container to exit.
    on_gone: Arc<Mutex<Option<RelayCloser>>>,
}

impl Output {
    /// A writer for Docker stream `stream` (`stream::STDOUT`/`STDERR`);
    /// with `enabled` false its bytes are dropped (the client did not ask
    /// for that stream).
    pub fn writer(&self, stream: u8, enabled: bool) -> StreamWriter {
        StreamWriter {
            out: self.clone(),
            stream,
            enabled,
        }
    }

    /// True once the client went away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Close the relay through `closer` at the first output the client is
    /// no longer there to take.
    pub fn close_relay_when_gone(&self, closer: RelayCloser) {
        *self.on_gone.lock().unwrap_or_else(|p| p.into_inner()) = Some(closer);
    }

    fn client_gone(&self) {
        let closer = self
            .on_gone
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = closer {
            c.close();
        }
    }
}

/// One output stream of a relay.
pub struct StreamWriter {
    out: Output,
    stream: u8,
    enabled: bool,
}

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.enabled || buf.is_empty() {
            return Ok(buf.len());
        }
        let data = if self.out.raw {
            buf.to_vec()
        } else {
            frame(self.stream, buf)
        };
        if self.out.tx.blocking_send(Bytes::from(data)).is_err() {
            self.out.client_gone();
            return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
