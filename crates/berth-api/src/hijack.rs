//! Hijacked connections (`attach`, exec `start`): Docker clients ask for
//! `Upgrade: tcp`, get `101 UPGRADED`, and the connection then carries
//! their stdin one way and the process's output the other: raw for a tty,
//! otherwise in Docker's 8-byte multiplexed frames.
//!
//! The relay itself is berth-core's blocking `AttachStream::relay`, run on
//! the blocking pool; it talks to the client through two bounded channels
//! ([`Pipes`]) that async tasks copy to and from the upgraded connection.
//! A client that did not ask for an upgrade gets a `200` streaming body
//! with the output instead (no stdin).

use crate::stream::{frame, ChannelReader};
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use berth_core::container::attach::{filter_detach, RelayCloser};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

/// The request's pending upgrade, when the client asked for one.
pub struct Hijack(Option<OnUpgrade>);

impl<S: Send + Sync> FromRequestParts<S> for Hijack {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let asked = parts.headers.contains_key(header::UPGRADE);
        Ok(Hijack(
            asked
                .then(|| parts.extensions.remove::<OnUpgrade>())
                .flatten(),
        ))
    }
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

/// Output for the client: raw for a tty, else multiplexed frames.
#[derive(Clone)]
pub struct Output {
    tx: mpsc::Sender<Bytes>,
    tty: bool,
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
        let data = if self.out.tty {
            buf.to_vec()
        } else {
            frame(self.stream, buf)
        };
        self.out
            .tx
            .blocking_send(Bytes::from(data))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Hijack {
    /// Answer the request and run `relay` with the client's [`Pipes`] once
    /// the connection is handed over; the connection's write side closes
    /// when `relay` has finished and dropped the pipes.
    pub fn serve<F, Fut>(self, tty: bool, relay: F) -> Response
    where
        F: FnOnce(Pipes) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(32);
        let (in_tx, from_client) = ChannelReader::new();
        let pipes = Pipes {
            input: Input {
                from_client,
                detach: None,
            },
            output: Output { tx: out_tx, tty },
            client_done: Arc::default(),
        };
        let client_done = pipes.client_done.clone();
        let ctype = if tty {
            "application/vnd.docker.raw-stream"
        } else {
            "application/vnd.docker.multiplexed-stream"
        };
        let Some(upgrade) = self.0 else {
            drop(in_tx);
            tokio::spawn(relay(pipes));
            let items = ReceiverStream::new(out_rx).map(Ok::<_, std::io::Error>);
            let body = Body::from_stream(items);
            return ([(header::CONTENT_TYPE, ctype)], body).into_response();
        };
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else {
                return;
            };
            let (mut rd, mut wr) = tokio::io::split(TokioIo::new(upgraded));
            let reader = tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut relay_wants_input = true;
                loop {
                    match rd.read(&mut buf).await {
                        Ok(n) if n > 0 => {
                            // Once the relay stops reading input, keep
                            // reading only to notice the client's end.
                            if relay_wants_input {
                                let chunk = Ok(Bytes::copy_from_slice(&buf[..n]));
                                relay_wants_input = in_tx.send(chunk).await.is_ok();
                            }
                        }
                        _ => break,
                    }
                }
                client_done.store(true, Ordering::SeqCst);
            });
            let writer = tokio::spawn(async move {
                while let Some(b) = out_rx.recv().await {
                    if wr.write_all(&b).await.is_err() {
                        return;
                    }
                }
                let _ = wr.shutdown().await;
            });
            relay(pipes).await;
            let _ = writer.await;
            // Ends the relay's stdin side too (its channel closes).
            reader.abort();
        });
        (
            StatusCode::SWITCHING_PROTOCOLS,
            [
                (header::CONTENT_TYPE, ctype),
                (header::CONNECTION, "Upgrade"),
                (header::UPGRADE, "tcp"),
            ],
        )
            .into_response()
    }
}
