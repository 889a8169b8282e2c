//! The History tab of posts and reviews: the revisions, a side-by-side diff
//! of two, and (for posts) restore.

use actix_web::{HttpResponse, web};
use minijinja::context;
use presswork_db::cms::{self, PostKey, Visibility};
use presswork_db::revisions::{self, Subject};
use presswork_domain::ids::ContentTaskId;
use presswork_domain::permissions as p;
use presswork_domain::revision::{Diff, RevisionSummary};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::pages::{console_actor, find_visible, human, see_other, version};
use super::session::{Flash, Viewer};
use super::{ConsoleError, OrConsole};
use crate::AppState;
use crate::error::ApiError;

/// Revisions shown on one page of the history.
const PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// The older revision of the comparison.
    a: Option<i64>,
    /// The newer one.
    b: Option<i64>,
    done: Option<String>,
    /// Restored references left out, as `field:id` (after a restore).
    dropped: Option<String>,
}

#[derive(Serialize)]
struct Row {
    id: i64,
    source: &'static str,
    who: String,
    at: String,
    at_iso: String,
    message: Option<String>,
    changed: String,
    restored_from: Option<i64>,
}

fn who(r: &RevisionSummary) -> String {
    let a = &r.author;
    match (&a.user_name, &a.api_key_name) {
        (Some(u), Some(k)) => format!("{u} (API key {k})"),
        (Some(u), None) => u.clone(),
        (None, Some(k)) => format!("API key {k}"),
        (None, None) => match (&a.prompt_version, r.source.as_str()) {
            (Some(v), _) => format!("pipeline (prompts {v})"),
            (None, "scheduler") => "scheduled publication".into(),
            _ => "a deleted user".into(),
        },
    }
}

fn row(r: &RevisionSummary) -> Row {
    Row {
        id: r.id,
        source: r.source.as_str(),
        who: who(r),
        at: human(r.created_at),
        at_iso: r.created_at.to_rfc3339(),
        message: r.message.clone(),
        changed: r.changed.join(", "),
        restored_from: r.restored_from,
    }
}

#[derive(Serialize)]
struct Span {
    op: &'static str,
    text: String,
}

#[derive(Serialize)]
struct FieldRow {
    field: &'static str,
    from: String,
    to: String,
}

/// The two sides of a diff, for a side-by-side view: the older side has the
/// shared and deleted words, the newer the shared and inserted ones.
fn sides(d: &Diff) -> (Vec<Span>, Vec<Span>, Vec<FieldRow>) {
    let side = |keep: &str| {
        d.content
            .iter()
            .filter(|c| c.op == "equal" || c.op == keep)
            .map(|c| Span {
                op: c.op,
                text: c.text.clone(),
            })
            .collect()
    };
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "–".to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let fields = d
        .fields
        .iter()
        .map(|f| FieldRow {
            field: f.field,
            from: show(&f.from),
            to: show(&f.to),
        })
        .collect();
    (side("delete"), side("insert"), fields)
}

/// The history page of either subject.
async fn render(
    state: &AppState,
    v: &Viewer,
    subject: Subject,
    heading: String,
    back: String,
    restore: Option<(Uuid, String)>,
    q: HistoryQuery,
) -> Result<HttpResponse, ConsoleError> {
    let mut conn = state.conn().await.or_console()?;
    let (list, total) = revisions::list(&mut conn, subject, PAGE, 0)
        .await
        .or_console()?;
    // Compare the two asked for, else the newest with the one before it.
    let b = q.b.or_else(|| list.first().map(|r| r.id));
    let a = q.a.or_else(|| list.get(1).map(|r| r.id));
    let compared = match (a, b) {
        (Some(a), Some(b)) => {
            let older = revisions::get(&mut conn, subject, a).await.or_console()?;
            let newer = revisions::get(&mut conn, subject, b).await.or_console()?;
            match (older, newer) {
                (Some(o), Some(n)) => {
                    let d = presswork_domain::revision::diff(&o.snapshot, &n.snapshot);
                    let (left, right, fields) = sides(&d);
                    Some(context! {
                        a => row(&o.summary), b => row(&n.summary), left, right, fields,
                        content_changed => d.content_changed,
                    })
                }
                _ => return Err(ConsoleError::not_found("No such revision here.")),
            }
        }
        _ => None,
    };
    drop(conn);
    let flash = match q.done.as_deref() {
        Some("restored") => match q.dropped.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => Flash::ok(format!(
                "Restored as a new revision. Left out, since deleted: {}.",
                d.replace(',', ", ")
            )),
            None => Flash::ok("Restored as a new revision."),
        },
        _ => None,
    };
    let (restore_url, etag) = match restore {
        Some((id, etag)) => (Some(format!("/console/posts/{id}/revisions")), Some(etag)),
        None => (None, None),
    };
    state.console.render(
        "history.html",
        v.ctx(
            "posts",
            flash,
            context! {
                heading, back, total, shown => list.len(),
                revisions => list.iter().map(row).collect::<Vec<_>>(),
                compared, a, b, restore_url, etag,
            },
        ),
    )
}

pub async fn post_history(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<Uuid>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::POSTS_READ_DRAFTS)?;
    let id = id.into_inner();
    let mut conn = state.conn().await.or_console()?;
    let post = cms::get_post(&mut conn, &PostKey::Id(id), Visibility::All)
        .await
        .or_console()?
        .ok_or_else(|| ConsoleError::not_found("No such post."))?
        .post;
    drop(conn);
    let can_edit = super::pages::may_edit(&v, &post.status, post.created_by, post.a_user_id);
    let restore = can_edit.then(|| (id, version(post.updated_at)));
    render(
        &state,
        &v,
        Subject::Post(id),
        format!("History of “{}”", post.title),
        format!("/console/posts/{id}"),
        restore,
        q.into_inner(),
    )
    .await
}

pub async fn review_history(
    state: web::Data<AppState>,
    v: Viewer,
    id: web::Path<ContentTaskId>,
    q: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ConsoleError> {
    v.require(p::CONTENT_READ)?;
    let mut conn = state.conn().await.or_console()?;
    let t = find_visible(&mut conn, &v, id.into_inner()).await?;
    drop(conn);
    let title = t.title.clone().unwrap_or_else(|| t.topic.clone());
    render(
        &state,
        &v,
        Subject::Review(t.id.uuid()),
        format!("Versions of “{title}”"),
        format!("/console/content/{}", t.id),
        None,
        q.into_inner(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct RestoreForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    etag: String,
}

pub async fn restore(
    state: web::Data<AppState>,
    v: Viewer,
    path: web::Path<(Uuid, i64)>,
    form: web::Form<RestoreForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    v.check_csrf(&state, &f.csrf)?;
    v.require(p::POSTS_UPDATE_OWN)?;
    let (id, rev) = path.into_inner();
    let expected = super::pages::expected_version(&f.etag)?;
    let mut conn = state.conn().await.or_console()?;
    let done = match cms::restore_revision(&mut conn, console_actor(&v), id, rev, None, expected)
        .await
    {
        Ok(done) => done,
        Err(cms::CmsError::PreconditionFailed) => {
            return Err(ConsoleError::Status(
                actix_web::http::StatusCode::PRECONDITION_FAILED,
                "Someone changed this post since you opened its history. Reload it and restore again."
                    .into(),
            ));
        }
        Err(cms::CmsError::NotFound) => {
            return Err(ConsoleError::not_found("No such revision of this post."));
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    state.public_cache.invalidate();
    let dropped: Vec<String> = done
        .dropped
        .iter()
        .map(|d| format!("{}:{}", d.field, d.id))
        .collect();
    let mut qs = form_urlencoded::Serializer::new(String::new());
    qs.append_pair("done", "restored");
    if !dropped.is_empty() {
        qs.append_pair("dropped", &dropped.join(","));
    }
    Ok(see_other(&format!(
        "/console/posts/{id}/history?{}",
        qs.finish()
    )))
}
