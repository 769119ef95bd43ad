//! Hijacked connections (`attach`, exec `start`): Docker clients ask for
//! `Upgrade: tcp`, get `101 UPGRADED`, and the connection then carries
//! their stdin one way and the process's output the other: raw for a tty,
//! otherwise in Docker's 8-byte multiplexed frames.
//!
//! The relay talks to the client through [`Pipes`] (`pipes.rs`); here two
//! async tasks copy between them and the upgraded connection. A client
//! that did not ask for an upgrade gets a `200` streaming body with the
//! output instead (no stdin).

use crate::pipes::{pipes, ClientEnd, Pipes};
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

impl Hijack {
    /// Answer the request and run `relay` with the client's [`Pipes`] once
    /// the connection is handed over; the connection's write side closes
    /// when `relay` has finished and dropped the pipes.
    pub fn serve<F, Fut>(self, tty: bool, relay: F) -> Response
    where
        F: FnOnce(Pipes) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (pipes, client) = pipes(tty);
        let ClientEnd {
            to_relay: in_tx,
            from_relay: mut out_rx,
            client_done,
        } = client;
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
