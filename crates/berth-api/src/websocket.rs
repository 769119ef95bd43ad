//! Attach over a websocket (`GET /containers/{id}/attach/ws`), as dockerd
//! serves it: each output write of the process is one frame with the raw
//! bytes (never multiplexed; binary frames from API 1.28 on, text before),
//! each frame from the client is stdin, and the server closes (1000) once
//! the container's output ended. The relay is the same as for a hijacked
//! connection, through [`Pipes`]; only the transport differs.

use crate::pipes::{pipes, ClientEnd, Pipes};
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long the closing handshake may take before the connection is
/// dropped anyway (a client that never answers our close frame).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Accept the websocket and run `relay` with the client's [`Pipes`];
/// `binary` selects binary frames for output (API 1.28 and later).
pub fn serve<F, Fut>(upgrade: WebSocketUpgrade, binary: bool, relay: F) -> Response
where
    F: FnOnce(Pipes) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    upgrade.on_upgrade(move |socket| async move {
        let (pipes, client) = pipes(true);
        let ClientEnd {
            to_relay,
            mut from_relay,
            client_done,
        } = client;
        let (mut sink, mut stream) = socket.split();
        let mut reader = tokio::spawn(async move {
            let mut relay_wants_input = true;
            while let Some(Ok(msg)) = stream.next().await {
                let data = match msg {
                    Message::Binary(b) => b,
                    Message::Text(t) => t.into(),
                    Message::Close(_) => break,
                    // Pings are answered by the websocket layer itself.
                    Message::Ping(_) | Message::Pong(_) => continue,
                };
                // Once the relay stops reading input, keep reading only
                // to notice the client's end.
                if relay_wants_input && !data.is_empty() {
                    relay_wants_input = to_relay.send(Ok(data)).await.is_ok();
                }
            }
            client_done.store(true, Ordering::SeqCst);
        });
        let writer = tokio::spawn(async move {
            while let Some(b) = from_relay.recv().await {
                let msg = if binary {
                    Message::Binary(b)
                } else {
                    Message::Text(String::from_utf8_lossy(&b).into_owned().into())
                };
                if sink.send(msg).await.is_err() {
                    return;
                }
            }
            let close = CloseFrame {
                code: close_code::NORMAL,
                reason: "".into(),
            };
            let _ = sink.send(Message::Close(Some(close))).await;
        });
        relay(pipes).await;
        let _ = writer.await;
        // Let the client answer the close frame, then drop the connection
        // (which also ends the relay's stdin side: its channel closes).
        if tokio::time::timeout(CLOSE_GRACE, &mut reader)
            .await
            .is_err()
        {
            reader.abort();
        }
    })
}
