//! The API binary's allocator: jemalloc, with the settings built in from
//! .cargo/config.toml (src/main.rs). Without them jemalloc starts no
//! background thread and keeps freed pages resident.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use presswork_db::testing::TestDatabase;

/// The names of a process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|t| {
            std::fs::read_to_string(t.unwrap().path().join("comm"))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect()
}

/// Whether the API on `port` answers `GET /livez` with 200.
async fn livez(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let mut answer = Vec::new();
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .is_ok()
        && stream.read_to_end(&mut answer).await.is_ok()
        && answer.starts_with(b"HTTP/1.1 200")
}

#[tokio::test]
async fn the_api_binary_runs_jemalloc_with_its_purging_thread() {
    let db = TestDatabase::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut api = Command::new(env!("CARGO_BIN_EXE_presswork-api"))
        .env("DATABASE_URL", db.url())
        .env("PRESSWORK__HTTP__ADDRESS", format!("127.0.0.1:{port}"))
        .env("JWT_SECRET", "allocator-test-secret-0123456789abcdef-0123")
        .env("RUST_LOG", "warn")
        .env_remove("_RJEM_MALLOC_CONF")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut up = false;
    while !up && started.elapsed() < Duration::from_secs(30) {
        up = livez(port).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let threads = thread_names(api.id());
    api.kill().unwrap();
    api.wait().unwrap();
    assert!(up, "the API did not start");
    assert!(
        threads.iter().any(|t| t == "jemalloc_bg_thd"),
        "no jemalloc background thread among {threads:?}"
    );
}
