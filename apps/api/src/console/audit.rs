//! The audit page: the trail with the API's filters (`GET /api/audit`).

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use minijinja::context;
use presswork_db::audit::{self, Filter};
use presswork_domain::permissions as p;
use presswork_domain::status::{AuditAction, TextEnum};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::pages::human;
use super::session::Viewer;
use super::{ConsoleError, OrConsole};
use crate::AppState;

const PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target_type: Option<String>,
    target_id: Option<String>,
    /// `YYYY-MM-DDTHH:MM` (UTC), as a datetime-local field sends it.
    since: Option<String>,
    until: Option<String>,
    cursor: Option<i64>,
}

#[derive(Serialize)]
struct Row {
    at: String,
    at_iso: String,
    actor: String,
    action: String,
    target: String,
    request_id: Option<String>,
    client_addr: Option<String>,
    summary: String,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time(field: &str, s: &Option<String>) -> Result<Option<DateTime<Utc>>, ConsoleError> {
    let Some(s) = non_empty(s) else {
        return Ok(None);
    };
    NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M")
        .map(|t| Some(t.and_utc()))
        .map_err(|_| {
            ConsoleError::bad_request(format!(
                "{field}: expected a date and time (YYYY-MM-DDTHH:MM, UTC)."
            ))
        })
}

pub async fn audit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    v: Viewer,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::AUDIT_READ)?;
    let q = q.into_inner();
    let actor = match non_empty(&q.actor) {
        Some(a) => Some(
            a.parse::<Uuid>()
                .map_err(|_| ConsoleError::bad_request("actor: expected a user id."))?,
        ),
        None => None,
    };
    let action = match non_empty(&q.action) {
        Some(a) => Some(a.parse::<AuditAction>().or_console()?),
        None => None,
    };
    let filter = Filter {
        actor,
        action,
        target_type: non_empty(&q.target_type),
        target_id: non_empty(&q.target_id),
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
        before: q.cursor,
    };
    let mut conn = state.conn().await.or_console()?;
    let (events, next) = audit::list(&mut conn, &filter, PAGE).await.or_console()?;
    drop(conn);
    let rows: Vec<Row> = events
        .into_iter()
        .map(|e| Row {
            at: human(e.at),
            at_iso: e.at.to_rfc3339(),
            actor: match (&e.actor_user_id, &e.actor_api_key_id, &e.actor_label) {
                (Some(u), Some(k), _) => format!("{u} (API key {k})"),
                (Some(u), None, _) => u.to_string(),
                (None, _, Some(l)) => format!("{} {l}", e.actor_kind),
                _ => e.actor_kind.clone(),
            },
            action: e.action,
            target: match (e.target_type, e.target_id) {
                (Some(t), Some(i)) => format!("{t} {i}"),
                (Some(t), None) => t,
                _ => String::new(),
            },
            request_id: e.request_id,
            client_addr: e.client_addr,
            summary: e.summary.to_string(),
        })
        .collect();
    let next_url = next.map(|c| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        for (k, val) in [
            ("actor", &q.actor),
            ("action", &q.action),
            ("target_type", &q.target_type),
            ("target_id", &q.target_id),
            ("since", &q.since),
            ("until", &q.until),
        ] {
            if let Some(val) = non_empty(val) {
                qs.append_pair(k, &val);
            }
        }
        qs.append_pair("cursor", &c.to_string());
        format!("{}?{}", req.path(), qs.finish())
    });
    state.console.render(
        "audit.html",
        v.ctx(
            "audit",
            None,
            context! {
                events => rows, next_url,
                actions => AuditAction::names(),
                f => context! {
                    actor => non_empty(&q.actor), action => non_empty(&q.action),
                    target_type => non_empty(&q.target_type), target_id => non_empty(&q.target_id),
                    since => non_empty(&q.since), until => non_empty(&q.until),
                },
            },
        ),
    )
}
