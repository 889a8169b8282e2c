//! Metrics against known data.

use actix_web::test;
use diesel_async::RunQueryDsl;
use presswork_api::startup;
use serde_json::json;

use crate::helpers::{TestApp, bearer, send};

async fn seed(t: &TestApp) {
    let mut conn = t.db.connect().await;
    for sql in [
        "INSERT INTO posts (title, slug, status, published_at) VALUES
            ('A', 'a', 'published', now() - interval '1 day'), ('B', 'b', 'published', now() - interval '2 days'),
            ('C', 'c', 'draft', NULL), ('D', 'd', 'scheduled', now() + interval '1 day'),
            ('E', 'e', 'published', now() + interval '2 days'), ('F', 'f', 'archived', now() - interval '9 days')",
        "INSERT INTO tasks (task_type, status, started_at, completed_at) VALUES
            ('housekeeping', 'completed', now() - interval '3 seconds', now() - interval '1 second'),
            ('housekeeping', 'completed', now() - interval '5 seconds', now() - interval '1 second'),
            ('housekeeping', 'completed', now() - interval '2 seconds', now()),
            ('housekeeping', 'failed', now() - interval '2 seconds', now())",
        "INSERT INTO tasks (task_type, status, run_at) VALUES
            ('housekeeping', 'pending', now() - interval '60 seconds'),
            ('housekeeping', 'pending', now() + interval '1 hour')",
        "INSERT INTO content_tasks (topic, status, quality_score) VALUES
            ('t1', 'awaiting_approval', 8.0), ('t2', 'awaiting_approval', 6.0), ('t3', 'approved', 7.0), ('t4', 'rejected', NULL)",
        "INSERT INTO llm_calls (provider, model, input_tokens, output_tokens, cost_usd, latency_ms, outcome, created_at) VALUES
            ('openai', 'gpt-4o-mini', 1000, 500, 0.5, 900, 'ok', now()),
            ('openai', 'gpt-4o-mini', 0, 0, NULL, 30, 'rate_limited', now()),
            ('openai', 'gpt-4o', 2000, 1000, 1.25, 1500, 'ok', now() - interval '3 days'),
            ('ollama', 'llama3.2', 300, 200, 0, 700, 'ok', now() - interval '40 days')",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }
}

#[actix_web::test]
async fn metrics_count_what_is_in_the_database() {
    let t = TestApp::new().await;
    seed(&t).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("viewer").await;
    let (status, m) = send(
        &app,
        bearer(test::TestRequest::get().uri("/api/metrics"), &token),
    )
    .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["status"], "degraded", "no worker is live");
    assert_eq!(
        m["tasks"]["by_status"],
        json!({"cancelled": 0, "completed": 3, "failed": 1, "pending": 2, "running": 0})
    );
    assert_eq!(m["tasks"]["success_rate"], 0.75);
    assert_eq!(m["tasks"]["queue_depth"], 1, "the future task is not due");
    let age = m["tasks"]["oldest_pending_age_s"].as_f64().unwrap();
    assert!((59.0..120.0).contains(&age), "{age}");
    let avg = m["tasks"]["avg_execution_time_ms"].as_f64().unwrap();
    assert!(
        (2600.0..2700.0).contains(&avg),
        "(2000 + 4000 + 2000) / 3 ms, got {avg}"
    );
    assert_eq!(
        m["posts"],
        json!({"published": 2, "drafts": 1, "scheduled": 2, "archived": 1})
    );
    assert_eq!(m["content"]["awaiting_approval"], 2);
    assert_eq!(m["content"]["approved"], 1);
    assert_eq!(m["content"]["rejected"], 1);
    assert_eq!(m["content"]["avg_quality_score"], 7.0);
    assert_eq!(
        (m["llm"]["requests"].as_i64(), m["llm"]["failures"].as_i64()),
        (Some(4), Some(1))
    );
    assert_eq!(
        (
            m["llm"]["tokens_in"].as_i64(),
            m["llm"]["tokens_out"].as_i64()
        ),
        (Some(3300), Some(1700))
    );
    assert_eq!(m["llm"]["cost_usd"], 1.75);
    assert_eq!(m["llm"]["by_provider"]["ollama"]["cost_usd"], 0.0);
    assert_eq!(m["llm"]["by_model"]["openai/gpt-4o-mini"]["requests"], 2);
    assert_eq!(m["workers"], json!({"live": 0, "running_tasks": 0}));
    let author = t.token_for("author").await;
    assert_eq!(
        send(
            &app,
            bearer(test::TestRequest::get().uri("/api/metrics"), &author)
        )
        .await
        .0,
        403
    );
}

#[actix_web::test]
async fn costs_by_period_with_the_budget() {
    let t = TestApp::new().await;
    seed(&t).await;
    {
        let mut conn = t.db.connect().await;
        diesel::sql_query("INSERT INTO settings (key, value, data_type) VALUES ('llm.monthly_budget_usd', '10', 'number')")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let app = test::init_service(startup::app(t.state.clone())).await;
    let token = t.token_for("viewer").await;
    let get = |q: &str| {
        bearer(
            test::TestRequest::get().uri(&format!("/api/metrics/costs{q}")),
            &token,
        )
    };
    let (_, day) = send(&app, get("?period=day")).await;
    assert_eq!(
        (day["total_cost_usd"].as_f64(), day["total_tokens"].as_i64()),
        (Some(0.5), Some(1500))
    );
    assert_eq!(day["daily"].as_array().unwrap().len(), 1);
    let (_, week) = send(&app, get("?period=week")).await;
    assert_eq!(week["total_cost_usd"], 1.75);
    assert_eq!(week["by_model"]["openai/gpt-4o"]["cost_usd"], 1.25);
    let (_, all) = send(&app, get("?period=all")).await;
    assert_eq!(all["by_provider"]["ollama"]["requests"], 1);
    assert_eq!(all["daily"].as_array().unwrap().len(), 3);
    let budget = &all["budget"];
    assert_eq!(budget["limit_usd"], 10.0);
    let spent = budget["spent_usd"].as_f64().unwrap();
    assert!(
        (0.5..=1.75).contains(&spent),
        "calls of this month only: {spent}"
    );
    assert!((budget["remaining_usd"].as_f64().unwrap() - (10.0 - spent)).abs() < 1e-9);
    assert_eq!(send(&app, get("?period=year")).await.0, 422);
}

/// Parses OpenMetrics text: every sample line is `name{labels} value`.
fn samples(text: &str) -> Vec<(String, f64)> {
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("bad line {l}"));
            let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {l}"));
            let name = series.split('{').next().unwrap();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{l}"
            );
            (series.to_owned(), v)
        })
        .collect()
}

#[actix_web::test]
async fn prometheus_exposition_is_scraped_and_parsed() {
    let fake = presswork_pipeline::testing::FakeLlm::start().await;
    let base = fake.base_url();
    let t = TestApp::with_env(&[
        ("OPENAI_BASE_URL", base.as_str()),
        ("LLM_CHAIN", "openai"),
        ("OPENAI_MODEL", "gpt-4o-mini"),
    ])
    .await;
    seed(&t).await;
    let app = test::init_service(startup::app(t.state.clone())).await;
    let mut listed = 0;
    for _ in 0..3 {
        let (status, body) = send(&app, test::TestRequest::get().uri("/api/posts?limit=5")).await;
        assert_eq!(status, 200);
        listed = body["data"].as_array().unwrap().len();
    }
    assert!(listed > 0);
    assert_eq!(
        send(
            &app,
            test::TestRequest::get().uri("/api/posts/no-such-post")
        )
        .await
        .0,
        404
    );
    let editor = t.token_for("editor").await;
    let req = test::TestRequest::post()
        .uri("/api/models/test")
        .set_json(json!({"provider": "openai"}));
    assert_eq!(send(&app, bearer(req, &editor)).await.0, 200);

    assert_eq!(
        send(&app, test::TestRequest::get().uri("/metrics")).await.0,
        401
    );
    let res = test::call_service(
        &app,
        bearer(test::TestRequest::get().uri("/metrics"), &editor).to_request(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let s = samples(&text);
    let value = |series: &str| {
        s.iter()
            .find(|(k, _)| k == series)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value(r#"presswork_http_requests_total{method="GET",route="/api/posts",status="200"}"#),
        3.0
    );
    assert_eq!(
        value(
            r#"presswork_http_requests_total{method="GET",route="/api/posts/{id_or_slug}",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        value(r#"presswork_http_request_duration_seconds_count{method="GET",route="/api/posts"}"#),
        3.0
    );
    assert!(text.contains(r#"presswork_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/posts"} 3"#) || text.contains(r#"presswork_http_request_duration_seconds_bucket{method="GET",route="/api/posts",le="+Inf"} 3"#), "{text}");
    assert_eq!(
        value(r#"presswork_llm_calls_total{provider="openai",model="gpt-4o-mini",outcome="ok"}"#),
        1.0
    );
    assert_eq!(
        value(
            r#"presswork_llm_tokens_total{provider="openai",model="gpt-4o-mini",direction="output"}"#
        ),
        480.0
    );
    // The three list reads were one answer: computed and not kept (asked
    // for once so far), computed again and kept (asked for twice within the
    // TTL), then served; with a fragment per post it lists.
    assert_eq!(value("presswork_public_cache_entries"), 1.0);
    for (result, n) in [("served", 1.0), ("kept", 1.0), ("passed", 1.0)] {
        assert_eq!(
            value(&format!(
                r#"presswork_public_cache_answers_total{{result="{result}"}}"#
            )),
            n,
            "{result}"
        );
    }
    assert_eq!(
        value("presswork_public_cache_fragment_entries"),
        listed as f64
    );
    // Each listed post was looked for in vain the first time the list was
    // computed and found the second; the post that does not exist was
    // looked for in vain.
    assert_eq!(
        value(r#"presswork_public_cache_fragments_total{result="missed"}"#),
        listed as f64 + 1.0
    );
    assert_eq!(
        value(r#"presswork_public_cache_fragments_total{result="served"}"#),
        listed as f64
    );
    assert!(value("presswork_public_cache_bytes") > 160.0);
    let cost = value(r#"presswork_llm_cost_usd_total{provider="openai",model="gpt-4o-mini"}"#);
    assert!(
        (cost - (120.0 * 0.15 + 480.0 * 0.6) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(value("presswork_queue_depth"), 1.0);
    assert!(value("presswork_queue_oldest_pending_age_seconds") >= 59.0);
    assert_eq!(
        value(r#"presswork_tasks{kind="housekeeping",status="completed"}"#),
        3.0
    );
    assert_eq!(
        value(r#"presswork_llm_circuit_open{provider="openai"}"#),
        0.0
    );
    assert!(value(r#"presswork_db_pool_connections{state="idle"}"#) >= 0.0);

    // The Grafana dashboard only uses what is exported here (worker
    // families are checked by the worker's test).
    let families = dashboard_families();
    assert!(families.len() >= 12);
    for f in families
        .iter()
        .filter(|f| !f.starts_with("presswork_worker_"))
    {
        assert!(
            text.contains(&format!("# TYPE {f} ")),
            "the dashboard uses {f}, which the API does not export"
        );
    }
}

/// Metric families a Grafana expression refers to (suffixes stripped).
pub fn dashboard_families() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/presswork.json"
    );
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = vec![];
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if let Some(name) = word.strip_prefix("presswork_") {
                    let base = ["_bucket", "_total", "_count", "_sum"]
                        .iter()
                        .find_map(|s| name.strip_suffix(s))
                        .unwrap_or(name);
                    out.push(format!("presswork_{base}"));
                }
            }
        }
    }
    out
}
