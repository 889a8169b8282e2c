//! The audit trail (`audit_events`, append-only: see its migration). Every
//! event is also written to the log as a structured `audit` event, so a log
//! pipeline receives the trail without reading the table.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_domain::status::{ActorKind, AuditAction};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::schema::audit_events;

/// Who acted, and from where.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub actor: Option<Actor>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

/// The request an action came with (none for the worker and the CLI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl Actor {
    /// Nobody signed in; `label` is the name a sign-in attempt tried.
    pub fn anonymous(label: Option<String>) -> Self {
        Actor {
            kind: ActorKind::Anonymous,
            user_id: None,
            api_key_id: None,
            label,
        }
    }

    /// A signed-in user, or an API key acting for its owner.
    pub fn user(user_id: Uuid, api_key_id: Option<Uuid>) -> Self {
        Actor {
            kind: if api_key_id.is_some() {
                ActorKind::ApiKey
            } else {
                ActorKind::User
            },
            user_id: Some(user_id),
            api_key_id,
            label: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub kind: ActorKind,
    pub user_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
    /// A name for people: the username, or the name tried at a failed
    /// sign-in.
    pub label: Option<String>,
}

impl Context {
    pub fn new(actor: Actor, request: &Request) -> Self {
        Context {
            actor: Some(actor),
            request_id: request.request_id.clone(),
            client_addr: request.client_addr.clone(),
        }
    }

    /// The system acting on its own (the scheduler, the CLI), with what it is.
    pub fn system(label: &str) -> Self {
        Context {
            actor: Some(Actor {
                kind: ActorKind::System,
                user_id: None,
                api_key_id: None,
                label: Some(label.to_owned()),
            }),
            ..Context::default()
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: AuditAction,
    pub target_type: Option<&'static str>,
    pub target_id: Option<String>,
    /// A small before/after summary; callers never put a secret in it.
    pub summary: Value,
}

impl Event {
    pub fn new(action: AuditAction, target_type: &'static str, target_id: impl ToString) -> Self {
        Event {
            action,
            target_type: Some(target_type),
            target_id: Some(target_id.to_string()),
            summary: Value::Object(Default::default()),
        }
    }

    pub fn with(mut self, summary: Value) -> Self {
        self.summary = summary;
        self
    }
}

/// Records an event (in the caller's transaction, when there is one) and
/// logs it.
pub async fn record(conn: &mut AsyncPgConnection, ctx: &Context, ev: Event) -> QueryResult<i64> {
    let anonymous = Actor::anonymous(None);
    let actor = ctx.actor.as_ref().unwrap_or(&anonymous);
    let id: i64 = diesel::insert_into(audit_events::table)
        .values((
            audit_events::actor_kind.eq(actor.kind.as_str()),
            audit_events::actor_user_id.eq(actor.user_id),
            audit_events::actor_api_key_id.eq(actor.api_key_id),
            audit_events::actor_label.eq(actor.label.as_deref()),
            audit_events::action.eq(ev.action.as_str()),
            audit_events::target_type.eq(ev.target_type),
            audit_events::target_id.eq(ev.target_id.as_deref()),
            audit_events::request_id.eq(ctx.request_id.as_deref()),
            audit_events::client_addr.eq(ctx.client_addr.as_deref()),
            audit_events::summary.eq(&ev.summary),
        ))
        .returning(audit_events::id)
        .get_result(conn)
        .await?;
    tracing::info!(
        target: "audit",
        id,
        action = ev.action.as_str(),
        actor_kind = actor.kind.as_str(),
        actor_user_id = actor.user_id.map(|u| u.to_string()),
        actor_api_key_id = actor.api_key_id.map(|u| u.to_string()),
        actor_label = actor.label.as_deref(),
        target_type = ev.target_type,
        target_id = ev.target_id.as_deref(),
        request_id = ctx.request_id.as_deref(),
        client_address = ctx.client_addr.as_deref(),
        summary = %ev.summary,
        "audit event"
    );
    Ok(id)
}

/// An event as the API lists it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_events, check_for_backend(diesel::pg::Pg))]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_user_id: Option<Uuid>,
    pub actor_api_key_id: Option<Uuid>,
    pub actor_label: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub summary: Value,
}

/// Which events to list; `before` is the cursor (events older than it).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<Uuid>,
    pub action: Option<AuditAction>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<i64>,
}

/// Events matching `f`, newest first, at most `limit`; and the cursor of
/// the next page when there is one.
pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &Filter,
    limit: i64,
) -> QueryResult<(Vec<AuditEvent>, Option<i64>)> {
    let mut q = audit_events::table.into_boxed();
    if let Some(a) = f.actor {
        q = q.filter(audit_events::actor_user_id.eq(a));
    }
    if let Some(a) = f.action {
        q = q.filter(audit_events::action.eq(a.as_str()));
    }
    if let Some(t) = &f.target_type {
        q = q.filter(audit_events::target_type.eq(t.clone()));
    }
    if let Some(t) = &f.target_id {
        q = q.filter(audit_events::target_id.eq(t.clone()));
    }
    if let Some(s) = f.since {
        q = q.filter(audit_events::at.ge(s));
    }
    if let Some(u) = f.until {
        q = q.filter(audit_events::at.lt(u));
    }
    if let Some(b) = f.before {
        q = q.filter(audit_events::id.lt(b));
    }
    let mut rows: Vec<AuditEvent> = q
        .order(audit_events::id.desc())
        .limit(limit + 1)
        .select(AuditEvent::as_select())
        .load(conn)
        .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok((rows, next))
}

/// The retention job: removes events older than `keep_days` (the database
/// keeps at least 90 whatever is asked).
pub async fn prune(conn: &mut AsyncPgConnection, keep_days: i32) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query("SELECT presswork_prune_audit($1) AS n")
        .bind::<diesel::sql_types::Integer, _>(keep_days)
        .get_result(conn)
        .await?;
    Ok(n.n)
}
