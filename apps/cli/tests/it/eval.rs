//! `presswork eval` against the local fake LLM (OpenAI's wire format) and a
//! fake Serper whose results are pages served here, so research reads real
//! pages through the SSRF guard.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use presswork_db::testing::TestDatabase;
use presswork_domain::content::word_count;
use presswork_domain::grounding::without_sources_list;
use presswork_pipeline::testing::{FakeLlm, judge_json};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Tokens the fake reports per call, and their price for gpt-4o-mini
/// ($0.15 and $0.60 per million, the default price table).
const TOKENS_PER_CALL: u64 = 600;
const COST_PER_CALL: f64 = (120.0 * 0.15 + 480.0 * 0.6) / 1e6;

/// Serper answering with two pages served by the same server.
async fn web() -> MockServer {
    let s = MockServer::start().await;
    let organic = json!([
        {"title": "Caching guide", "link": format!("{}/pages/1", s.uri()), "snippet": "How caches work.", "position": 1},
        {"title": "Field study", "link": format!("{}/pages/2", s.uri()), "snippet": "What teams measured.", "position": 2}
    ]);
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "searchParameters": {"q": "query", "type": "search", "engine": "google"},
            "organic": organic
        })))
        .mount(&s)
        .await;
    for n in 1..=2 {
        Mock::given(method("GET"))
            .and(path(format!("/pages/{n}")))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                format!("<html><head><title>Page {n}</title></head><body><h1>Page {n}</h1><p>In 2024, 4{n}% of teams reported faster pages after caching.</p></body></html>"),
                "text/html; charset=utf-8",
            ))
            .mount(&s)
            .await;
    }
    s
}

struct Harness {
    db: TestDatabase,
    llm: FakeLlm,
    web: MockServer,
    dir: PathBuf,
}

impl Harness {
    async fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("pw-eval-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            db: TestDatabase::new().await,
            llm: FakeLlm::start().await,
            web: web().await,
            dir,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_presswork"));
        c.arg("eval")
            .args(args)
            .env("DATABASE_URL", self.db.url())
            .env_remove("PRESSWORK__DATABASE__URL")
            .env_remove("PRESSWORK_CONFIG")
            // Only the fake: nothing here may try a local Ollama.
            .env("PRESSWORK__LLM__CHAIN", "openai")
            .env("PRESSWORK__LLM__OPENAI__BASE_URL", self.llm.base_url())
            .env("PRESSWORK__LLM__OPENAI__API_KEY", "sk-fake")
            .env("PRESSWORK__LLM__OPENAI__DEFAULT_MODEL", "gpt-4o-mini")
            .env("PRESSWORK__LLM__MAX_RETRIES", "0")
            .env("PRESSWORK__INTEGRATIONS__SERPER_API_KEY", "serper-fake")
            .env("PRESSWORK__INTEGRATIONS__SERPER_BASE_URL", self.web.uri())
            .env(
                "PRESSWORK__INTEGRATIONS__RESEARCH_ALLOW_PRIVATE_PAGES",
                "true",
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `presswork eval` off the runtime's threads (the fakes answer on
    /// them).
    async fn eval(&self, args: &[&str]) -> Output {
        let mut c = self.command(args);
        let out = tokio::task::spawn_blocking(move || c.output().unwrap())
            .await
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    fn report(&self) -> Value {
        let text = std::fs::read_to_string(self.out().join("eval.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn topics(&self, topics: &[&str]) -> String {
        let file = self.dir.join("topics.toml");
        let text: String = topics
            .iter()
            .map(|t| format!("[[topic]]\ntopic = \"{t}\"\ntarget_length = 400\n\n"))
            .collect();
        std::fs::write(&file, text).unwrap();
        file.display().to_string()
    }

    /// Every content task: id, status, text, target length.
    async fn content_tasks(&self) -> Vec<(uuid::Uuid, String, Option<String>, i32)> {
        use presswork_db::schema::content_tasks::dsl as ct;
        let mut conn = self.db.connect().await;
        ct::content_tasks
            .select((ct::id, ct::status, ct::content, ct::target_length))
            .load(&mut conn)
            .await
            .unwrap()
    }

    /// Tasks in the queue.
    async fn queued(&self) -> i64 {
        let mut conn = self.db.connect().await;
        presswork_db::schema::tasks::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sample_topics() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../eval/topics.toml")
        .display()
        .to_string()
}

/// The sample topics run end to end: every measure is what the fakes and
/// the stored drafts say, the Markdown has a row per topic, and nothing is
/// queued for the worker.
#[tokio::test(flavor = "multi_thread")]
async fn eval_runs_the_sample_topics_and_reports_what_happened() {
    let h = Harness::new("sample").await;
    // The first draft is judged below the threshold, once: one refinement.
    h.llm
        .script()
        .judge
        .push_back(judge_json(6.0, "Too vague."));
    let out_dir = h.out().display().to_string();
    let topics = sample_topics();
    let out = h
        .eval(&[
            "--topics",
            &topics,
            "--provider",
            "openai",
            "--out",
            &out_dir,
            "--keep",
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out.stderr));

    let report = h.report();
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(report["provider"], "openai");
    assert!(report["finished_at"].is_string());
    let calls = h.llm.chat_requests().await as u64;
    let tasks = h.content_tasks().await;
    assert_eq!(tasks.len(), 6, "--keep leaves every draft");
    assert_eq!(h.queued().await, 0, "nothing was queued for the worker");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["state"], "done", "{row}");
        let m = &row["measures"];
        let id: uuid::Uuid = row["content_task_id"].as_str().unwrap().parse().unwrap();
        let (_, status, content, target) = tasks.iter().find(|t| t.0 == id).unwrap();
        assert_eq!(status, "awaiting_approval");
        let content = content.as_deref().unwrap();
        assert_eq!(
            m["words"],
            word_count(without_sources_list(content)) as u64,
            "{row}"
        );
        assert_eq!(m["target_words"], *target as u64);
        let (before, after) = if i == 0 { (6.0, 8.5) } else { (8.5, 8.5) };
        assert_eq!(m["judge_before"]["overall"], before, "{row}");
        assert_eq!(m["judge_after"]["overall"], after, "{row}");
        assert_eq!(m["refinements"], u64::from(i == 0), "{row}");
        let names = m["stage_names"].as_array().unwrap();
        assert_eq!(names.len() as u64, m["stages"].as_u64().unwrap());
        assert_eq!(names.contains(&json!("refine_1")), i == 0, "{row}");
        assert_eq!(m["models"], json!(["openai:gpt-4o-mini"]));
        // Two pages found and read; the fake cites both and every claim
        // is supported.
        assert_eq!(m["sources"], 2, "{row}");
        assert_eq!(m["sources_cited"], 2, "{row}");
        assert!(m["citations"].as_u64().unwrap() >= 2, "{row}");
        assert_eq!(m["grounding"], "checked", "{row}");
        assert_eq!(m["support_rate"], 1.0, "{row}");
        assert_eq!(m["support_rate_before"], 1.0, "{row}");
        assert!(m["claims"].as_u64().unwrap() >= 2, "{row}");
        assert_eq!(m["unsupported"], 0);
    }
    let t = &report["totals"];
    assert_eq!(t["done"], 6);
    assert_eq!(t["total_tokens"], calls * TOKENS_PER_CALL);
    let cost = t["cost_usd"].as_f64().unwrap();
    assert!((cost - calls as f64 * COST_PER_CALL).abs() < 1e-9, "{cost}");
    assert_eq!(t["refinements"], 1);
    let gain = t["mean_gain"].as_f64().unwrap();
    assert!((gain - 2.5 / 6.0).abs() < 1e-9, "{gain}");

    let md = std::fs::read_to_string(h.out().join("eval.md")).unwrap();
    assert_eq!(text(&out.stdout), md, "the table is also printed");
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(table.len(), 7, "{md}");
    assert!(table[1].contains("| done | 6.0 | 8.5 | 1 | 100% |"), "{md}");
    assert!(md.contains("- Topics: 6 (6 done, 0 failed)"), "{md}");
    // Not a terminal: a plain line per stage.
    let err = text(&out.stderr);
    assert!(err.contains("eval: [1/6] HTTP caching headers"), "{err}");
    assert!(err.contains(": critique_1 ("), "{err}");
    assert!(
        err.contains("[6/6]") && err.contains("done: judge 8.5 → 8.5"),
        "{err}"
    );
}

/// A run killed mid-topic resumes from the last finished stage: no finished
/// call is made again, the topic already done is not run again, and a
/// complete run removes its drafts. A third run has nothing to do; other
/// topics in the same folder are refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_resumes_without_repeating_finished_calls() {
    let h = Harness::new("resume").await;
    let topics = h.topics(&["Caching at the edge", "Database connection pools"]);
    let out_dir = h.out().display().to_string();
    let args = ["--topics", topics.as_str(), "--out", out_dir.as_str()];
    // The second topic's SEO call hangs; the run is killed while it waits.
    h.llm.script().delay_from = Some(("seo", 1, Duration::from_secs(60)));
    let mut child = h.command(&args).spawn().unwrap();
    wait_for_calls(&h, &mut child, "seo", 2).await;
    child.kill().unwrap();
    let _ = child.wait();
    h.llm.script().delay_from = None;

    let report = h.report();
    assert_eq!(report["rows"][0]["state"], "done");
    assert_eq!(report["rows"][1]["state"], "running");
    let first = report["rows"][0]["measures"].clone();
    let before = [
        h.llm.calls("draft").await,
        h.llm.calls("critique").await,
        h.llm.calls("claims").await,
        h.llm.calls("verify").await,
    ];

    let out = h.eval(&args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        !err.contains("[1/2]"),
        "the finished topic ran again: {err}"
    );
    let after = [
        h.llm.calls("draft").await,
        h.llm.calls("critique").await,
        h.llm.calls("claims").await,
        h.llm.calls("verify").await,
    ];
    assert_eq!(before, after, "a finished call was made again");
    // Only the SEO call in flight when it was killed is made again.
    assert_eq!(h.llm.calls("seo").await, 3);
    let report = h.report();
    assert_eq!(report["rows"][0]["measures"], first);
    assert_eq!(report["rows"][1]["state"], "done");
    assert_eq!(report["totals"]["done"], 2);
    assert!(report["rows"][1]["wall_ms"].as_u64().unwrap() > 0);
    // Complete without --keep: the drafts are gone from the queue.
    assert!(h.content_tasks().await.is_empty());
    assert!(report["rows"][0]["content_task_id"].is_null());

    let calls = h.llm.chat_requests().await;
    let out = h.eval(&args).await;
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("is a complete run"));
    assert_eq!(h.llm.chat_requests().await, calls);

    let other = h.topics(&["Something else entirely"]);
    let out = h
        .eval(&["--topics", other.as_str(), "--out", out_dir.as_str()])
        .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--fresh"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(h.report()["rows"].as_array().unwrap().len(), 2);
}

/// A failed topic is reported, the run exits non-zero, and the same command
/// finishes it from where it failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_topic_is_reported_and_retried_from_its_last_stage() {
    let h = Harness::new("failed").await;
    let topics = h.topics(&["Caching at the edge"]);
    let out_dir = h.out().display().to_string();
    let args = ["--topics", topics.as_str(), "--out", out_dir.as_str()];
    h.llm.script().fail_from = Some(("seo", 0));
    let out = h.eval(&args).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = h.report();
    assert_eq!(report["rows"][0]["state"], "failed");
    assert!(
        report["rows"][0]["error"].as_str().unwrap().contains("seo"),
        "{report}"
    );
    assert!(text(&out.stdout).contains("| failed: "));
    let tasks = h.content_tasks().await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].1, "failed", "kept, failed, for the retry");
    let drafts = h.llm.calls("draft").await;

    h.llm.script().fail_from = None;
    let out = h.eval(&args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(h.llm.calls("draft").await, drafts);
    assert_eq!(h.report()["rows"][0]["state"], "done");
}

/// Bad input is a clear error before anything is created.
#[tokio::test(flavor = "multi_thread")]
async fn bad_topics_and_unknown_providers_are_refused() {
    let h = Harness::new("bad").await;
    let file = h.dir.join("bad.toml");
    std::fs::write(
        &file,
        "[[topic]]\ntopic = \"ok topic\"\ntarget_length = 10\n",
    )
    .unwrap();
    let f = file.display().to_string();
    let out = h.eval(&["--topics", f.as_str()]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("topic[1].target_length"), "{err}");

    let good = h.topics(&["Caching at the edge"]);
    for (provider, said) in [
        ("mistral", "unknown provider"),
        ("gemini", "provider gemini is not enabled or not configured"),
    ] {
        let out = h
            .eval(&["--topics", good.as_str(), "--provider", provider])
            .await;
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out.stderr).contains(said), "{}", text(&out.stderr));
    }
    let missing = h.dir.join("missing.toml").display().to_string();
    let out = h.eval(&["--topics", missing.as_str()]).await;
    assert!(text(&out.stderr).contains("could not read"));
    assert!(h.content_tasks().await.is_empty());
    assert_eq!(h.llm.chat_requests().await, 0);
}

fn interrupt(child: &std::process::Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -INT failed");
}

/// Waits for the child to end, at most `secs` seconds; its exit code.
async fn exit_code(child: &mut std::process::Child, secs: u64) -> Option<i32> {
    for _ in 0..secs * 20 {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!("the run did not stop within {secs} s");
}

/// Waits (at most a minute) until `stage` has received `n` calls while the
/// run goes on.
async fn wait_for_calls(h: &Harness, child: &mut std::process::Child, stage: &str, n: usize) {
    for _ in 0..1200 {
        if h.llm.calls(stage).await >= n {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended before {stage} received {n} calls: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    panic!("{stage} never received {n} calls");
}

/// Ctrl-C stops after the stage running, with exit code 130; a second
/// Ctrl-C stops at once, mid-call. Either way the next run resumes from the
/// last stored stage.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_after_the_stage_and_twice_stops_at_once() {
    let h = Harness::new("ctrl-c").await;
    let topics = h.topics(&["Caching at the edge", "Database connection pools"]);
    let out_dir = h.out().display().to_string();
    let args = ["--topics", topics.as_str(), "--out", out_dir.as_str()];

    // The second draft takes a moment; Ctrl-C arrives while it is written.
    h.llm.script().delay_from = Some(("draft", 1, Duration::from_millis(1500)));
    let mut child = h.command(&args).spawn().unwrap();
    wait_for_calls(&h, &mut child, "draft", 2).await;
    interrupt(&child);
    assert_eq!(exit_code(&mut child, 30).await, Some(130));
    let report = h.report();
    assert_eq!(report["rows"][0]["state"], "done");
    assert_eq!(report["rows"][1]["state"], "running");
    // It stopped after the draft: no critique of the second topic.
    assert_eq!(h.llm.calls("critique").await, 1);

    // Now the critique hangs: one Ctrl-C would wait for it, two do not.
    h.llm.script().delay_from = Some(("critique", 1, Duration::from_secs(60)));
    let mut child = h.command(&args).spawn().unwrap();
    wait_for_calls(&h, &mut child, "critique", 2).await;
    interrupt(&child);
    tokio::time::sleep(Duration::from_millis(300)).await;
    interrupt(&child);
    assert_eq!(exit_code(&mut child, 10).await, Some(130));

    h.llm.script().delay_from = None;
    let out = h.eval(&args).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(h.llm.calls("draft").await, 2, "no draft was written twice");
    assert_eq!(h.report()["totals"]["done"], 2);
}
