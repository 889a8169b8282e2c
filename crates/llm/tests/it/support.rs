//! Local servers for provider tests.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one HTTP response whose chunked body is written in the given
/// pieces, so the client sees chunk boundaries where we choose.
pub async fn raw_server(content_type: &'static str, pieces: Vec<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 65536];
        let _ = sock.read(&mut buf).await.unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        for p in pieces {
            sock.write_all(format!("{:x}\r\n", p.len()).as_bytes())
                .await
                .unwrap();
            sock.write_all(&p).await.unwrap();
            sock.write_all(b"\r\n").await.unwrap();
            sock.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sock.write_all(b"0\r\n\r\n").await.unwrap();
    });
    format!("http://{addr}")
}

/// Splits `body` into three pieces, the first cut inside the UTF-8 encoding
/// of `inside` (a multi-byte character).
pub fn split_inside(body: &str, inside: &str) -> Vec<Vec<u8>> {
    let bytes = body.as_bytes();
    let at = bytes
        .windows(inside.len())
        .position(|w| w == inside.as_bytes())
        .unwrap();
    let mid = (at + 40).min(bytes.len() - 1);
    vec![
        bytes[..at + 1].to_vec(),
        bytes[at + 1..mid].to_vec(),
        bytes[mid..].to_vec(),
    ]
}

/// An SSE body from `(event, data)` pairs; `None` for data-only events.
pub fn sse(events: &[(Option<&str>, String)]) -> String {
    events
        .iter()
        .map(|(e, d)| match e {
            Some(e) => format!("event: {e}\ndata: {d}\n\n"),
            None => format!("data: {d}\n\n"),
        })
        .collect()
}

/// A base URL where nothing listens.
pub async fn refused() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}
