use presswork_domain::status::TaskStatus;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel_async::RunQueryDsl;
use presswork_db::queue::{self, CancelOutcome};
use presswork_db::testing::TestDatabase;
use presswork_worker::runner::{Registry, TaskContext, TaskError};
use serde_json::json;

use crate::{enqueue, eventually, fast_config, start, task};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_task_is_invisible_to_other_claimers() {
    let db = TestDatabase::new().await;
    for _ in 0..20 {
        enqueue(&db, "noop", json!({}), 3).await;
    }
    let kinds = vec!["noop".to_owned()];
    let (a, b) = (db.pool(), db.pool());
    let (mut ca, mut cb) = (a.get().await.unwrap(), b.get().await.unwrap());
    let (x, y) = tokio::join!(
        queue::claim(&mut ca, &kinds, "a", 30, 15),
        queue::claim(&mut cb, &kinds, "b", 30, 15)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.len() + y.len(), 20);
    let ids_x: std::collections::HashSet<_> = x.iter().map(|t| t.id).collect();
    assert!(
        y.iter().all(|t| !ids_x.contains(&t.id)),
        "a task was claimed twice"
    );
    assert!(x.iter().all(|t| t.status == TaskStatus::Running
        && t.locked_by.as_deref() == Some("a")
        && t.attempts == 1));
    // Nothing left for a third claimer.
    assert!(
        queue::claim(&mut ca, &kinds, "c", 30, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_follow_priority_then_run_at_and_skip_future_work() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let mk = |p: i32, run_in: i64| {
        let mut t = presswork_db::queue::NewTask::new("noop", json!({}));
        t.priority = p;
        t.run_at = Some(chrono::Utc::now() + chrono::Duration::seconds(run_in));
        t
    };
    let low = queue::enqueue(&mut conn, &mk(0, -10)).await.unwrap().0;
    let high = queue::enqueue(&mut conn, &mk(5, -1)).await.unwrap().0;
    let later = queue::enqueue(&mut conn, &mk(100, 3600)).await.unwrap().0;
    let got = queue::claim(&mut conn, &["noop".to_owned()], "w", 30, 10)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![high.id, low.id]
    );
    assert_eq!(task(&db, later.id).await.status, TaskStatus::Pending);
    // Dedup by idempotency key.
    let mut t = mk(0, 0);
    t.idempotency_key = Some("once".into());
    let (first, created) = queue::enqueue(&mut conn, &t).await.unwrap();
    let (second, created_again) = queue::enqueue(&mut conn, &t).await.unwrap();
    assert!(created && !created_again);
    assert_eq!(first.id, second.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tasks_across_four_runners_each_run_exactly_once() {
    let db = TestDatabase::new().await;
    let runs: Arc<Mutex<HashMap<uuid::Uuid, u32>>> = Arc::default();
    let mut stops = Vec::new();
    let mut handles = Vec::new();
    for i in 0..4 {
        let mut reg = Registry::default();
        let runs = runs.clone();
        reg.register_raw("count", move |ctx: TaskContext| {
            let runs = runs.clone();
            async move {
                *runs.lock().unwrap().entry(ctx.task.id).or_default() += 1;
                Ok(json!({"ok": true}))
            }
        });
        let (tx, h) = start(&db, reg, fast_config(&format!("r{i}"), &db, true));
        stops.push(tx);
        handles.push(h);
    }
    let mut conn = db.connect().await;
    diesel::sql_query(
        "INSERT INTO tasks (task_type, payload) SELECT 'count', jsonb_build_object('n', g) FROM generate_series(1, 1000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let done = eventually(Duration::from_secs(60), || {
        let runs = runs.clone();
        async move { runs.lock().unwrap().len() == 1000 }
    })
    .await;
    for tx in stops {
        let _ = tx.send(());
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    assert!(done, "only {} of 1000 ran", runs.lock().unwrap().len());
    assert!(
        runs.lock().unwrap().values().all(|n| *n == 1),
        "some task ran twice"
    );
    let summary = queue::summary(&mut conn, Some("count")).await.unwrap();
    assert_eq!(summary.completed_tasks, 1000);
}

fn blocking_registry(kind: &'static str) -> Registry {
    let mut reg = Registry::default();
    reg.register_raw(kind, |_ctx: TaskContext| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(json!({}))
    });
    reg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_runner_loses_its_lease_and_another_completes_the_task() {
    let db = TestDatabase::new().await;
    let t = enqueue(&db, "job", json!({}), 5).await;
    // Runner A takes the task, then dies without any shutdown.
    let (_keep, a) = start(&db, blocking_registry("job"), fast_config("a", &db, false));
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, t.id).await.status == TaskStatus::Running
        })
        .await
    );
    a.abort();
    let _ = a.await;
    let mut reg = Registry::default();
    reg.register_raw("job", |_ctx: TaskContext| async { Ok(json!({"by": "b"})) });
    let (stop_b, b) = start(&db, reg, fast_config("b", &db, false));
    let finished = eventually(Duration::from_secs(15), || async {
        task(&db, t.id).await.status == TaskStatus::Completed
    })
    .await;
    let _ = stop_b.send(());
    b.await.unwrap().unwrap();
    assert!(finished, "{:?}", task(&db, t.id).await);
    let t = task(&db, t.id).await;
    assert_eq!(t.result, Some(json!({"by": "b"})));
    assert_eq!(
        t.attempts, 2,
        "one attempt by the dead runner, one by the next"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_then_dead_letter_and_a_panic_does_not_kill_the_worker() {
    let db = TestDatabase::new().await;
    let mut reg = Registry::default();
    reg.register_raw("flaky", |_ctx: TaskContext| async {
        Err::<serde_json::Value, _>(TaskError::Retry("upstream said 503".into()))
    });
    reg.register_raw("boom", |_ctx: TaskContext| async {
        if true {
            panic!("handler exploded");
        }
        Ok(json!({}))
    });
    reg.register_raw("fine", |_ctx: TaskContext| async {
        Ok(json!({"fine": true}))
    });
    let (stop, h) = start(&db, reg, fast_config("w", &db, true));
    let flaky = enqueue(&db, "flaky", json!({}), 3).await;
    let boom = enqueue(&db, "boom", json!({}), 1).await;
    let fine = enqueue(&db, "fine", json!({}), 1).await;

    // First failure: back to pending, with a backoff in the future.
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, flaky.id).await.attempts == 1
                && task(&db, flaky.id).await.status == TaskStatus::Pending
        })
        .await
    );
    let t = task(&db, flaky.id).await;
    let wait = (t.run_at - chrono::Utc::now()).num_milliseconds();
    assert!(
        (0..=3100).contains(&wait),
        "backoff after attempt 1 is 1–3 s, got {wait} ms"
    );
    assert_eq!(t.error.as_deref(), Some("upstream said 503"));
    // Skip the waits: the remaining attempts run, then it is dead-lettered.
    let mut conn = db.connect().await;
    for _ in 0..2 {
        let before = task(&db, flaky.id).await.attempts;
        diesel::sql_query(format!(
            "UPDATE tasks SET run_at = now() WHERE id = '{}' AND status = 'pending'",
            flaky.id
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        assert!(
            eventually(Duration::from_secs(5), || async {
                task(&db, flaky.id).await.attempts > before
                    && task(&db, flaky.id).await.status != TaskStatus::Running
            })
            .await
        );
    }
    let t = task(&db, flaky.id).await;
    assert_eq!((t.status.as_str(), t.attempts), ("failed", 3));

    // The panicking task fails alone; the worker keeps going.
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, boom.id).await.status == TaskStatus::Failed
        })
        .await
    );
    assert!(
        task(&db, boom.id)
            .await
            .error
            .unwrap()
            .contains("handler exploded")
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, fine.id).await.status == TaskStatus::Completed
        })
        .await
    );
    let after = enqueue(&db, "fine", json!({}), 1).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, after.id).await.status == TaskStatus::Completed
        })
        .await
    );

    let _ = stop.send(());
    h.await.unwrap().unwrap();
    // A dead-lettered task can be retried by hand (with no worker running, so
    // nothing claims it before we look).
    assert!(queue::retry(&mut conn, boom.id).await.unwrap());
    let t = task(&db, boom.id).await;
    assert_eq!((t.status.as_str(), t.attempts), ("pending", 0));
    assert!(
        !queue::retry(&mut conn, fine.id).await.unwrap(),
        "a completed task is not retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_of_pending_and_running_tasks() {
    let db = TestDatabase::new().await;
    let mut conn = db.connect().await;
    let pending = enqueue(&db, "unclaimed_kind", json!({}), 1).await;
    assert_eq!(
        queue::cancel(&mut conn, pending.id).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(task(&db, pending.id).await.status, TaskStatus::Cancelled);
    assert_eq!(
        queue::cancel(&mut conn, pending.id).await.unwrap(),
        CancelOutcome::Finished
    );

    let mut reg = Registry::default();
    reg.register_raw("steps", |ctx: TaskContext| async move {
        for step in 0..100 {
            ctx.check_cancel().await?;
            ctx.progress(json!({"step": step})).await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(json!({}))
    });
    let (stop, h) = start(&db, reg, fast_config("w", &db, true));
    let running = enqueue(&db, "steps", json!({}), 1).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, running.id).await.progress.get("step").is_some()
        })
        .await
    );
    assert_eq!(
        queue::cancel(&mut conn, running.id).await.unwrap(),
        CancelOutcome::Requested
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, running.id).await.status == TaskStatus::Cancelled
        })
        .await
    );
    let _ = stop.send(());
    h.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_hands_unfinished_tasks_back_at_once() {
    let db = TestDatabase::new().await;
    let t = enqueue(&db, "long", json!({}), 5).await;
    let (stop, h) = start(&db, blocking_registry("long"), fast_config("w", &db, false));
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, t.id).await.status == TaskStatus::Running
        })
        .await
    );
    let _ = stop.send(());
    h.await.unwrap().unwrap();
    let t = task(&db, t.id).await;
    assert_eq!(
        t.status,
        TaskStatus::Pending,
        "released, not left to its lease"
    );
    assert_eq!(t.attempts, 0, "the interrupted attempt does not count");
    assert!(t.locked_by.is_none() && t.lease_until.is_none());
    let mut conn = db.connect().await;
    let workers = presswork_db::models::worker::all(&mut conn, 10)
        .await
        .unwrap();
    assert!(workers[0].stopped_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_an_idle_worker_and_polling_covers_a_lost_connection() {
    let db = TestDatabase::new().await;
    let mut reg = Registry::default();
    reg.register_raw("ping", |_ctx: TaskContext| async { Ok(json!({})) });
    let mut cfg = fast_config("w", &db, true);
    cfg.poll_interval = Duration::from_secs(30); // only NOTIFY can be this fast
    let (stop, h) = start(&db, reg.clone(), cfg);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = enqueue(&db, "ping", json!({}), 1).await;
    let woke = eventually(Duration::from_secs(3), || async {
        task(&db, t.id).await.status == TaskStatus::Completed
    })
    .await;
    let _ = stop.send(());
    h.await.unwrap().unwrap();
    assert!(woke, "an idle worker did not wake on NOTIFY");

    // Without a listening connection, polling alone finds the work.
    let (stop, h) = start(&db, reg, fast_config("p", &db, false));
    let t = enqueue(&db, "ping", json!({}), 1).await;
    let polled = eventually(Duration::from_secs(3), || async {
        task(&db, t.id).await.status == TaskStatus::Completed
    })
    .await;
    let _ = stop.send(());
    h.await.unwrap().unwrap();
    assert!(polled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_reconnects_after_its_connection_is_killed() {
    use std::sync::atomic::Ordering;
    let db = TestDatabase::new().await;
    let wake = Arc::new(presswork_worker::listener::Wakeups::default());
    let task_handle = tokio::spawn(presswork_worker::listener::listen(
        db.url().to_owned(),
        wake.clone(),
        Duration::from_millis(200),
    ));
    assert!(
        eventually(Duration::from_secs(5), || async {
            std::sync::atomic::AtomicBool::load(&wake.connected, Ordering::SeqCst)
        })
        .await
    );
    let mut conn = db.connect().await;
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND query LIKE 'LISTEN%'",
        db.name()
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            !std::sync::atomic::AtomicBool::load(&wake.connected, Ordering::SeqCst)
        })
        .await,
        "the drop was not noticed"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            std::sync::atomic::AtomicBool::load(&wake.connected, Ordering::SeqCst)
        })
        .await,
        "no reconnect"
    );
    task_handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_cap_limits_how_many_of_that_kind_run_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let db = TestDatabase::new().await;
    let now_running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut reg = Registry::default();
    {
        let (now_running, peak) = (now_running.clone(), peak.clone());
        reg.register_raw("heavy", move |_ctx: TaskContext| {
            let (now_running, peak) = (now_running.clone(), peak.clone());
            async move {
                let n = now_running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                now_running.fetch_sub(1, Ordering::SeqCst);
                Ok(json!({}))
            }
        });
    }
    reg.register_raw("light", |_ctx: TaskContext| async { Ok(json!({})) });
    let mut cfg = fast_config("w", &db, true);
    cfg.concurrency = 4;
    cfg.kind_limits.insert("heavy".into(), 1);
    let (stop, h) = start(&db, reg, cfg);
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(enqueue(&db, "heavy", json!({}), 1).await.id);
        ids.push(enqueue(&db, "light", json!({}), 1).await.id);
    }
    let all_done = eventually(Duration::from_secs(10), || {
        let ids = ids.clone();
        let db = &db;
        async move {
            for id in ids {
                if task(db, id).await.status != TaskStatus::Completed {
                    return false;
                }
            }
            true
        }
    })
    .await;
    let _ = stop.send(());
    h.await.unwrap().unwrap();
    assert!(all_done);
    assert_eq!(
        AtomicUsize::load(&peak, Ordering::SeqCst),
        1,
        "the heavy kind ran more than one at a time"
    );
}

/// A kind registered with its type gets its payload decoded; one that does
/// not decode fails for good at once (retrying cannot fix it), and the
/// handler never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_handlers_get_decoded_payloads_and_bad_ones_fail_at_once() {
    use presswork_domain::tasks::{PublishPost, PublishPostPayload, TaskKind};
    let db = TestDatabase::new().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut reg = Registry::default();
    let s = seen.clone();
    reg.register::<PublishPost>(move |_ctx: TaskContext, p: PublishPostPayload| {
        s.lock().unwrap().push(p.post_id);
        async { Ok(json!({"ok": true})) }
    });
    let (stop, h) = start(&db, reg, fast_config("w", &db, true));
    let post_id = uuid::Uuid::new_v4();
    let good = enqueue(&db, PublishPost::NAME, json!({"post_id": post_id}), 5).await;
    let bad = enqueue(&db, PublishPost::NAME, json!({"post_id": "not-a-uuid"}), 5).await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            task(&db, good.id).await.status == TaskStatus::Completed
                && task(&db, bad.id).await.status == TaskStatus::Failed
        })
        .await
    );
    let b = task(&db, bad.id).await;
    assert_eq!(b.attempts, 1, "not retried");
    assert!(b.error.unwrap().contains("does not decode"));
    assert_eq!(*seen.lock().unwrap(), vec![post_id]);
    let _ = stop.send(());
    h.await.unwrap().unwrap();
}

/// A worker publishes the LLM providers' health as it sees it with its
/// liveness heartbeat, so the API can report breakers that opened here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_liveness_heartbeat_publishes_provider_health() {
    use presswork_llm::router::{CircuitState, ProviderHealth};
    let db = TestDatabase::new().await;
    let seen = Arc::new(Mutex::new(CircuitState::Closed));
    let mut cfg = fast_config("health", &db, false);
    cfg.liveness_every = Duration::from_millis(100);
    let s = seen.clone();
    cfg.provider_health = Some(Arc::new(move || {
        serde_json::to_value(vec![ProviderHealth {
            provider: "ollama".into(),
            circuit: *s.lock().unwrap(),
            consecutive_failures: 3,
            requests: 7,
            failures: 3,
            last_error: Some("connection refused".into()),
        }])
        .unwrap()
    }));
    let (stop, h) = start(&db, Registry::default(), cfg);
    let published = || async {
        let mut conn = db.connect().await;
        presswork_db::models::worker::live(&mut conn, 30)
            .await
            .unwrap()
            .into_iter()
            .find(|w| w.id == "health")
            .map(|w| w.providers)
    };
    *seen.lock().unwrap() = CircuitState::Open;
    assert!(
        eventually(Duration::from_secs(5), || async {
            published().await.is_some_and(|p| p[0]["circuit"] == "open")
        })
        .await
    );
    let p = published().await.unwrap();
    assert_eq!(p[0]["provider"], "ollama");
    assert_eq!(p[0]["failures"], 3);
    let _ = stop.send(());
    h.await.unwrap().unwrap();
}

#[tokio::test]
async fn housekeeping_prunes_revisions_beyond_the_setting_and_only_then() {
    use presswork_db::cms::{self, Actor, PostPatch, Via};
    use presswork_db::revisions::{self, Subject};
    use presswork_worker::handlers::{Keeping, housekeeping_pass};
    let db = TestDatabase::new().await;
    let pool = db.pool();
    let mut conn = db.connect().await;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
    }
    let user = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('e@example.com', 'editor') RETURNING id",
    )
    .get_result::<Id>(&mut conn)
    .await
    .unwrap()
    .id;
    let actor = Actor {
        user_id: user,
        can_update_any: true,
        can_publish: true,
        via: Via::Api,
        request: Default::default(),
    };
    let post = cms::create_post(
        &mut conn,
        actor.clone(),
        PostPatch {
            title: Some("Kept".into()),
            ..PostPatch::default()
        },
    )
    .await
    .unwrap();
    for n in 0..5 {
        let p = PostPatch {
            content: Some(format!("version {n}")),
            ..PostPatch::default()
        };
        cms::update_post(&mut conn, actor.clone(), post, p, None)
            .await
            .unwrap();
    }
    let keep = Keeping {
        retention: Duration::from_secs(3600),
        llm_reservations: Duration::from_secs(3600),
    };
    let total = async |conn: &mut presswork_db::AsyncPgConnection| {
        revisions::list(conn, Subject::Post(post), 1, 0)
            .await
            .unwrap()
            .1
    };
    // Unset, and set to something that is not a limit: every revision stays.
    for setting in [None, Some("0"), Some("\"three\"")] {
        if let Some(v) = setting {
            diesel::sql_query(
                "INSERT INTO settings (key, value, data_type) VALUES ('revisions.keep', $1, 'number')
                 ON CONFLICT (key) DO UPDATE SET value = $1",
            )
            .bind::<diesel::sql_types::Text, _>(v)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        let report = housekeeping_pass(&pool, keep).await.unwrap().unwrap();
        assert_eq!(report["revisions_pruned"], 0, "{setting:?}");
        assert_eq!(total(&mut conn).await, 6, "{setting:?}");
    }
    diesel::sql_query("UPDATE settings SET value = '2' WHERE key = 'revisions.keep'")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = housekeeping_pass(&pool, keep).await.unwrap().unwrap();
    assert_eq!(report["revisions_pruned"], 4, "{report}");
    assert_eq!(total(&mut conn).await, 2);
    let (left, _) = revisions::list(&mut conn, Subject::Post(post), 10, 0)
        .await
        .unwrap();
    let newest = revisions::get(&mut conn, Subject::Post(post), left[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(newest.snapshot.content, "version 4");
}
