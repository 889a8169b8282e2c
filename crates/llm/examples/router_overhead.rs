//! What the router adds to a call: the same instant local provider (an
//! Ollama-format server answering at once over keep-alive) called directly
//! through the client and through the router, alternately, many times.
//! Prints a markdown section; `scripts/bench.sh` includes it in its report.
//!
//! `cargo run --release -p presswork_llm --example router_overhead [calls]`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark: fail loudly"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use presswork_llm::ollama::Ollama;
use presswork_llm::pricing::{Price, PriceTable};
use presswork_llm::router::{Route, Router, RouterConfig};
use presswork_llm::types::{ApiKey, ClientConfig};
use presswork_llm::{ChatRequest, Message, Provider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ANSWER: &str = r#"{"model":"bench","message":{"role":"assistant","content":"ok"},"done":true,"prompt_eval_count":12,"eval_count":3}"#;

/// An HTTP/1.1 server that answers every request at once, keeping the
/// connection open.
async fn instant_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            sock.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                loop {
                    // Read one request: headers, then Content-Length bytes.
                    let (head_end, len) = loop {
                        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (pos + 4, len);
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    let res = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    if sock.write_all(res.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let calls: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    // As in production: every call writes its JSON log line (here to a sink).
    tracing_subscriber::fmt()
        .json()
        .with_writer(std::io::sink)
        .with_env_filter("info")
        .init();
    let base = instant_server().await;
    let cfg = ClientConfig {
        base_url: base,
        api_key: ApiKey::default(),
        default_model: "bench".into(),
        timeout: Duration::from_secs(10),
    };
    let direct = Ollama::new(cfg.clone()).unwrap();
    let routed: Arc<dyn Provider> = Arc::new(Ollama::new(cfg).unwrap());
    let router =
        Router::new(vec![routed], RouterConfig::default()).with_prices(PriceTable::new([(
            "bench".to_owned(),
            Price {
                input: 1.0,
                output: 1.0,
            },
        )]));
    let req = ChatRequest {
        messages: vec![Message::system("Be brief."), Message::user("Say ok")],
        ..Default::default()
    };
    let route = Route::default().purpose("bench");
    for _ in 0..1000 {
        direct.chat(&req).await.unwrap();
        router.chat_routed(&req, &route).await.unwrap();
    }
    let mut d = Vec::with_capacity(calls);
    let mut r = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        direct.chat(&req).await.unwrap();
        d.push(t.elapsed());
        let t = Instant::now();
        router.chat_routed(&req, &route).await.unwrap();
        r.push(t.elapsed());
    }
    d.sort();
    r.sort();
    let (d50, r50) = (percentile(&d, 0.5), percentile(&r, 0.5));
    let (d99, r99) = (percentile(&d, 0.99), percentile(&r, 0.99));
    println!("### LLM router overhead");
    println!();
    println!(
        "Command: `cargo run --release -p presswork_llm --example router_overhead {calls}` — {calls} calls each, alternating, to an Ollama-format server on loopback that answers at once (keep-alive), one task, JSON log line per call written to a sink, no ledger (its database round trips are the pipeline benchmark's business)."
    );
    println!();
    println!("| path | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| client directly | {:.1} µs | {:.1} µs |",
        us(d50),
        us(d99)
    );
    println!(
        "| through the router | {:.1} µs | {:.1} µs |",
        us(r50),
        us(r99)
    );
    println!(
        "| **router overhead** | **{:.1} µs** | {:.1} µs |",
        us(r50) - us(d50),
        us(r99) - us(d99)
    );
    println!();
    println!("Target: under 500 µs p50 added per call.");
}
