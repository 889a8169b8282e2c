//! The task queue's SQL. Enqueue on the caller's connection (so a task
//! commits with the write that caused it); claim with `FOR UPDATE SKIP
//! LOCKED` in one statement that commits at once; leases renewed by
//! heartbeat; bounded retries ending in `failed`.
//!
//! Every state change after a claim is conditioned on `locked_by`, so a
//! worker whose lease was reaped cannot overwrite the next owner's work.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use presswork_domain::status::TaskStatus;
use presswork_domain::tasks::TaskKind;

use crate::schema::tasks;
use crate::text_enum::Stored;

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName, PartialEq)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct Task {
    pub id: Uuid,
    pub task_type: String,
    #[diesel(deserialize_as = Stored<TaskStatus>)]
    pub status: TaskStatus,
    pub priority: i32,
    pub payload: Value,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub locked_by: Option<String>,
    pub cancel_requested: bool,
    pub idempotency_key: Option<String>,
    pub progress: Value,
    pub created_by: Option<Uuid>,
    pub task_name: Option<String>,
    pub topic: Option<String>,
    pub primary_keyword: Option<String>,
    pub target_audience: Option<String>,
    pub category: Option<String>,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl Task {
    pub fn is_finished(&self) -> bool {
        self.status.is_finished()
    }
}

#[derive(Debug, Clone, Default, Insertable)]
#[diesel(table_name = tasks)]
pub struct NewTask {
    pub task_type: String,
    pub payload: Value,
    pub priority: i32,
    pub max_attempts: i32,
    pub run_at: Option<DateTime<Utc>>,
    pub idempotency_key: Option<String>,
    pub created_by: Option<Uuid>,
    pub task_name: Option<String>,
    pub topic: Option<String>,
    pub primary_keyword: Option<String>,
    pub target_audience: Option<String>,
    pub category: Option<String>,
    pub metadata: Value,
}

impl NewTask {
    /// A task of kind `K`: its name, priority and attempts as the kind says.
    pub fn of<K: TaskKind>(payload: &K::Payload) -> Result<Self, serde_json::Error> {
        Ok(Self {
            priority: K::PRIORITY,
            max_attempts: K::MAX_ATTEMPTS,
            ..Self::new(K::NAME, serde_json::to_value(payload)?)
        })
    }

    /// A task of a kind named at run time (tests' own kinds); presswork's
    /// kinds use [`Self::of`].
    pub fn new(task_type: &str, payload: Value) -> Self {
        Self {
            task_type: task_type.to_owned(),
            payload,
            priority: 0,
            max_attempts: 5,
            metadata: serde_json::json!({}),
            ..Default::default()
        }
    }
}

/// Inserts a task on the caller's connection. With an idempotency key, a
/// second enqueue of the same kind and key returns the first task (`false`).
pub async fn enqueue(conn: &mut AsyncPgConnection, new: &NewTask) -> QueryResult<(Task, bool)> {
    let inserted: Option<Task> = diesel::insert_into(tasks::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(Task::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    match inserted {
        Some(t) => Ok((t, true)),
        None => {
            let existing = tasks::table
                .filter(tasks::task_type.eq(&new.task_type))
                .filter(tasks::idempotency_key.eq(&new.idempotency_key))
                .select(Task::as_select())
                .first(conn)
                .await?;
            Ok((existing, false))
        }
    }
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Task>> {
    tasks::table
        .find(id)
        .select(Task::as_select())
        .first(conn)
        .await
        .optional()
}

/// Claims up to `limit` runnable tasks of the given kinds for `worker`: the
/// highest priority, then the earliest `run_at`. One statement, committed at
/// once; a task claimed here is invisible to every other claimer.
///
/// Commands (`task_type = 'command'`) are claimed here only when `command`
/// is among `kinds`, and then only those addressed to the built-in agent
/// type [`BUILTIN_AGENT`]; others wait for external agents (`claim_command`).
pub async fn claim(
    conn: &mut AsyncPgConnection,
    kinds: &[String],
    worker: &str,
    lease_secs: i64,
    limit: i64,
) -> QueryResult<Vec<Task>> {
    let builtin_commands = kinds.iter().any(|k| k == "command");
    diesel::sql_query(
        "WITH next AS (
             SELECT id FROM tasks
              WHERE status = 'pending' AND run_at <= now()
                AND (task_type = ANY($1) AND task_type <> 'command'
                     OR ($5 AND task_type = 'command' AND payload ->> 'agent_type' = 'worker'))
              ORDER BY priority DESC, run_at, id
              LIMIT $4
              FOR UPDATE SKIP LOCKED)
         UPDATE tasks t
            SET status = 'running', locked_by = $2, lease_until = now() + make_interval(secs => $3),
                attempts = t.attempts + 1, started_at = now(), error = NULL
           FROM next WHERE t.id = next.id
         RETURNING t.*",
    )
    .bind::<Array<Text>, _>(kinds)
    .bind::<Text, _>(worker)
    .bind::<BigInt, _>(lease_secs)
    .bind::<BigInt, _>(limit)
    .bind::<diesel::sql_types::Bool, _>(builtin_commands)
    .load(conn)
    .await
}

/// Commands addressed to this agent type run inside presswork-worker.
pub const BUILTIN_AGENT: &str = "worker";

/// Claims one command for an external agent of `agent_type`.
pub async fn claim_command(
    conn: &mut AsyncPgConnection,
    agent_type: &str,
    agent: &str,
    lease_secs: i64,
) -> QueryResult<Option<Task>> {
    let mut rows: Vec<Task> = diesel::sql_query(
        "WITH next AS (
             SELECT id FROM tasks
              WHERE task_type = 'command' AND status = 'pending' AND run_at <= now()
                AND payload ->> 'agent_type' = $1
              ORDER BY priority DESC, run_at, id
              LIMIT 1
              FOR UPDATE SKIP LOCKED)
         UPDATE tasks t
            SET status = 'running', locked_by = $2, lease_until = now() + make_interval(secs => $3),
                attempts = t.attempts + 1, started_at = now(), error = NULL
           FROM next WHERE t.id = next.id
         RETURNING t.*",
    )
    .bind::<Text, _>(agent_type)
    .bind::<Text, _>(agent)
    .bind::<BigInt, _>(lease_secs)
    .load(conn)
    .await?;
    Ok(rows.pop())
}

/// Extends the lease; false when the task is no longer ours (reaped).
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    lease_secs: i64,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "UPDATE tasks SET lease_until = now() + make_interval(secs => $3)
          WHERE id = $1 AND status = 'running' AND locked_by = $2",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Text, _>(worker)
    .bind::<BigInt, _>(lease_secs)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub async fn set_progress(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    progress: &Value,
) -> QueryResult<bool> {
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::status.eq(TaskStatus::Running.as_str()))
            .filter(tasks::locked_by.eq(worker)),
    )
    .set(tasks::progress.eq(progress))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub async fn cancel_requested(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    tasks::table
        .find(id)
        .select(tasks::cancel_requested)
        .first(conn)
        .await
}

/// Ends a running task with its result; false when it is not running (or,
/// with `holder`, not held by that worker any more). `None` is for agents
/// finishing commands through the API, which identify the task by id.
pub async fn complete(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    holder: Option<&str>,
    result: &Value,
) -> QueryResult<bool> {
    let mut target = diesel::update(tasks::table)
        .filter(tasks::id.eq(id))
        .filter(tasks::status.eq(TaskStatus::Running.as_str()))
        .into_boxed();
    if let Some(worker) = holder {
        target = target.filter(tasks::locked_by.eq(worker.to_owned()));
    }
    let n = target
        .set((
            tasks::status.eq(TaskStatus::Completed.as_str()),
            tasks::result.eq(Some(result)),
            tasks::completed_at.eq(diesel::dsl::now),
            tasks::lease_until.eq(None::<DateTime<Utc>>),
            tasks::error.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Ends a task we hold as cancelled (it saw `cancel_requested`).
pub async fn mark_cancelled(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::status.eq(TaskStatus::Running.as_str()))
            .filter(tasks::locked_by.eq(worker)),
    )
    .set((
        tasks::status.eq(TaskStatus::Cancelled.as_str()),
        tasks::completed_at.eq(diesel::dsl::now),
        tasks::lease_until.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to `pending`, to run again at the backoff time.
    Retrying,
    /// Out of attempts (or not retryable): `failed`, the dead letter.
    Dead,
    /// Not ours any more; nothing changed.
    Lost,
}

/// Records a failure: retried at `retry_at` while attempts remain (and
/// `retryable`), else dead-lettered. `holder` as for [`complete`].
pub async fn fail(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    holder: Option<&str>,
    error: &str,
    retry_at: DateTime<Utc>,
    retryable: bool,
) -> QueryResult<FailOutcome> {
    #[derive(QueryableByName)]
    struct Status {
        #[diesel(sql_type = Text, deserialize_as = Stored<TaskStatus>)]
        status: TaskStatus,
    }
    let row: Option<Status> = diesel::sql_query(
        "UPDATE tasks SET
            status = CASE WHEN $5 AND attempts < max_attempts THEN 'pending' ELSE 'failed' END,
            run_at = CASE WHEN $5 AND attempts < max_attempts THEN $4 ELSE run_at END,
            completed_at = CASE WHEN $5 AND attempts < max_attempts THEN NULL ELSE now() END,
            error = $3, locked_by = NULL, lease_until = NULL
          WHERE id = $1 AND status = 'running' AND ($2::text IS NULL OR locked_by = $2)
          RETURNING status",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Nullable<Text>, _>(holder)
    .bind::<Text, _>(error)
    .bind::<Timestamptz, _>(retry_at)
    .bind::<diesel::sql_types::Bool, _>(retryable)
    .get_result(conn)
    .await
    .optional()?;
    Ok(match row.map(|r| r.status) {
        Some(TaskStatus::Pending) => FailOutcome::Retrying,
        Some(_) => FailOutcome::Dead,
        None => FailOutcome::Lost,
    })
}

/// Returns tasks whose lease ran out (their worker died) to the queue, or
/// fails them when they are out of attempts. Returns (requeued, failed).
pub async fn reap_expired(conn: &mut AsyncPgConnection) -> QueryResult<(usize, usize)> {
    #[derive(QueryableByName)]
    struct Reaped {
        #[diesel(sql_type = Text, deserialize_as = Stored<TaskStatus>)]
        status: TaskStatus,
    }
    let rows: Vec<Reaped> = diesel::sql_query(
        "UPDATE tasks SET
            status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
            completed_at = CASE WHEN attempts >= max_attempts THEN now() ELSE NULL END,
            error = 'lease expired: the worker stopped heartbeating (killed or stuck)',
            locked_by = NULL, lease_until = NULL, run_at = now()
          WHERE status = 'running' AND lease_until < now()
          RETURNING status",
    )
    .load(conn)
    .await?;
    let failed = rows
        .iter()
        .filter(|r| r.status == TaskStatus::Failed)
        .count();
    Ok((rows.len() - failed, failed))
}

/// On graceful shutdown: hands the worker's unfinished tasks back at once,
/// without counting the interrupted attempt.
pub async fn release(conn: &mut AsyncPgConnection, worker: &str) -> QueryResult<usize> {
    diesel::sql_query(
        "UPDATE tasks SET status = 'pending', locked_by = NULL, lease_until = NULL,
                attempts = greatest(attempts - 1, 0), run_at = now()
          WHERE status = 'running' AND locked_by = $1",
    )
    .bind::<Text, _>(worker)
    .execute(conn)
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was pending: cancelled now.
    Cancelled,
    /// It is running: flagged; it ends `cancelled` at its next check.
    Requested,
    /// Already finished.
    Finished,
    NotFound,
}

pub async fn cancel(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<CancelOutcome> {
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::status.eq(TaskStatus::Pending.as_str())),
    )
    .set((
        tasks::status.eq(TaskStatus::Cancelled.as_str()),
        tasks::cancel_requested.eq(true),
        tasks::completed_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await?;
    if n == 1 {
        return Ok(CancelOutcome::Cancelled);
    }
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::status.eq(TaskStatus::Running.as_str())),
    )
    .set(tasks::cancel_requested.eq(true))
    .execute(conn)
    .await?;
    if n == 1 {
        return Ok(CancelOutcome::Requested);
    }
    Ok(match find(conn, id).await? {
        Some(_) => CancelOutcome::Finished,
        None => CancelOutcome::NotFound,
    })
}

/// A failed or cancelled task, run again from scratch by hand. False when it
/// is not in such a state.
pub async fn retry(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    let n = diesel::update(tasks::table.find(id).filter(
        tasks::status.eq_any([TaskStatus::Failed.as_str(), TaskStatus::Cancelled.as_str()]),
    ))
    .set((
        tasks::status.eq(TaskStatus::Pending.as_str()),
        tasks::attempts.eq(0),
        tasks::run_at.eq(diesel::dsl::now),
        tasks::error.eq(None::<String>),
        tasks::cancel_requested.eq(false),
        tasks::completed_at.eq(None::<DateTime<Utc>>),
        tasks::result.eq(None::<Value>),
    ))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Deletes finished tasks older than `retention` (failed ones are kept).
pub async fn prune(conn: &mut AsyncPgConnection, retention_secs: i64) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM tasks WHERE status IN ('completed', 'cancelled')
            AND completed_at < now() - make_interval(secs => $1)",
    )
    .bind::<BigInt, _>(retention_secs)
    .execute(conn)
    .await
}

/// Fields of a pending task a client may edit.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskChanges {
    pub task_name: Option<Option<String>>,
    pub topic: Option<Option<String>>,
    pub primary_keyword: Option<Option<String>>,
    pub target_audience: Option<Option<String>>,
    pub category: Option<Option<String>>,
    pub metadata: Option<Value>,
    pub priority: Option<i32>,
    pub run_at: Option<DateTime<Utc>>,
    pub payload: Option<Value>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum EditOutcome {
    Edited,
    NotPending,
    NotFound,
}

pub async fn edit_pending(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &TaskChanges,
) -> QueryResult<EditOutcome> {
    let n = diesel::update(
        tasks::table
            .find(id)
            .filter(tasks::status.eq(TaskStatus::Pending.as_str())),
    )
    .set((changes, tasks::updated_at.eq(diesel::dsl::now)))
    .execute(conn)
    .await?;
    if n == 1 {
        return Ok(EditOutcome::Edited);
    }
    Ok(if find(conn, id).await?.is_some() {
        EditOutcome::NotPending
    } else {
        EditOutcome::NotFound
    })
}

#[derive(Debug, Default, Clone)]
pub struct TaskListFilter {
    pub status: Option<TaskStatus>,
    pub category: Option<String>,
    pub task_type: Option<String>,
    /// Commands: only this agent type.
    pub agent_type: Option<String>,
    /// Only tasks this user created or that work on a content request this
    /// user created (`RequestAccess::owner_filter`); `None`: every task.
    pub owned_by: Option<Uuid>,
}

/// The SQL condition of `TaskListFilter::owned_by`.
fn owned_by(
    user: Uuid,
) -> diesel::expression::SqlLiteral<
    diesel::sql_types::Bool,
    impl diesel::query_builder::QueryFragment<diesel::pg::Pg> + Send,
> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("(tasks.created_by = ")
        .bind::<diesel::sql_types::Uuid, _>(user)
        .sql(" OR EXISTS (SELECT 1 FROM content_tasks ct WHERE ct.task_id = tasks.id AND ct.created_by = ")
        .bind::<diesel::sql_types::Uuid, _>(user)
        .sql("))")
}

/// A task, if it exists and `owned_by` (when given) may see it.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    owner: Option<Uuid>,
) -> QueryResult<Option<Task>> {
    let mut q = tasks::table.find(id).select(Task::as_select()).into_boxed();
    if let Some(u) = owner {
        q = q.filter(owned_by(u));
    }
    q.first(conn).await.optional()
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &TaskListFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<(Vec<Task>, i64)> {
    let mut q = tasks::table.select(Task::as_select()).into_boxed();
    let mut c = tasks::table.count().into_boxed();
    if let Some(s) = f.status {
        q = q.filter(tasks::status.eq(s.as_str()));
        c = c.filter(tasks::status.eq(s.as_str()));
    }
    if let Some(s) = &f.category {
        q = q.filter(tasks::category.eq(s.clone()));
        c = c.filter(tasks::category.eq(s.clone()));
    }
    if let Some(s) = &f.task_type {
        q = q.filter(tasks::task_type.eq(s.clone()));
        c = c.filter(tasks::task_type.eq(s.clone()));
    }
    if let Some(a) = &f.agent_type {
        let cond = diesel::dsl::sql::<diesel::sql_types::Bool>("payload ->> 'agent_type' = ")
            .bind::<Text, _>(a.clone());
        q = q.filter(cond);
        let cond = diesel::dsl::sql::<diesel::sql_types::Bool>("payload ->> 'agent_type' = ")
            .bind::<Text, _>(a.clone());
        c = c.filter(cond);
    }
    if let Some(u) = f.owned_by {
        q = q.filter(owned_by(u));
        c = c.filter(owned_by(u));
    }
    let rows = q
        .order((tasks::created_at.desc(), tasks::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok((rows, c.get_result(conn).await?))
}

#[derive(Debug, Clone, QueryableByName, serde::Serialize)]
pub struct QueueSummary {
    #[diesel(sql_type = BigInt)]
    pub total_tasks: i64,
    #[diesel(sql_type = BigInt)]
    pub completed_tasks: i64,
    #[diesel(sql_type = BigInt)]
    pub failed_tasks: i64,
    #[diesel(sql_type = BigInt)]
    pub pending_tasks: i64,
    #[diesel(sql_type = BigInt)]
    pub running_tasks: i64,
    #[diesel(sql_type = BigInt)]
    pub cancelled_tasks: i64,
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    pub avg_execution_time_ms: Option<f64>,
    /// Pending tasks whose time has come.
    #[diesel(sql_type = BigInt)]
    pub queue_depth: i64,
    #[diesel(sql_type = Nullable<diesel::sql_types::Double>)]
    pub oldest_pending_age_s: Option<f64>,
}

/// Counts by status, mean run time of completed tasks, and queue depth/age;
/// `task_type` narrows it (commands use `command`).
pub async fn summary(
    conn: &mut AsyncPgConnection,
    task_type: Option<&str>,
) -> QueryResult<QueueSummary> {
    diesel::sql_query(
        "SELECT count(*) AS total_tasks,
                count(*) FILTER (WHERE status = 'completed') AS completed_tasks,
                count(*) FILTER (WHERE status = 'failed') AS failed_tasks,
                count(*) FILTER (WHERE status = 'pending') AS pending_tasks,
                count(*) FILTER (WHERE status = 'running') AS running_tasks,
                count(*) FILTER (WHERE status = 'cancelled') AS cancelled_tasks,
                (avg(extract(epoch FROM completed_at - started_at) * 1000)
                    FILTER (WHERE status = 'completed' AND started_at IS NOT NULL))::float8 AS avg_execution_time_ms,
                count(*) FILTER (WHERE status = 'pending' AND run_at <= now()) AS queue_depth,
                (extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'pending' AND run_at <= now())))::float8
                    AS oldest_pending_age_s
           FROM tasks WHERE $1::text IS NULL OR task_type = $1",
    )
    .bind::<Nullable<Text>, _>(task_type)
    .get_result(conn)
    .await
}
