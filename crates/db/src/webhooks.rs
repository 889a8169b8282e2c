//! Outgoing webhook subscriptions, and events: an event enqueues one
//! `deliver_webhook` task per active subscription that asked for it, on the
//! caller's connection, so it commits with the change that caused it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use presswork_domain::tasks::{DeliverWebhook, DeliverWebhookPayload};
use serde_json::Value;
use uuid::Uuid;

use crate::queue::{self, NewTask};
use crate::schema::webhook_subscriptions;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions, check_for_backend(diesel::pg::Pg))]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<Option<String>>,
    pub secret_encrypted: Vec<u8>,
    pub description: String,
    pub is_active: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    url: &str,
    events: &[String],
    secret_encrypted: &[u8],
    description: &str,
    created_by: Option<Uuid>,
) -> QueryResult<Subscription> {
    let events: Vec<Option<String>> = events.iter().cloned().map(Some).collect();
    diesel::insert_into(webhook_subscriptions::table)
        .values((
            webhook_subscriptions::url.eq(url),
            webhook_subscriptions::events.eq(events),
            webhook_subscriptions::secret_encrypted.eq(secret_encrypted),
            webhook_subscriptions::description.eq(description),
            webhook_subscriptions::created_by.eq(created_by),
        ))
        .returning(Subscription::as_returning())
        .get_result(conn)
        .await
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Subscription>> {
    webhook_subscriptions::table
        .order(webhook_subscriptions::created_at.desc())
        .select(Subscription::as_select())
        .load(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Subscription>> {
    webhook_subscriptions::table
        .find(id)
        .select(Subscription::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    Ok(diesel::delete(webhook_subscriptions::table.find(id))
        .execute(conn)
        .await?
        == 1)
}

/// Whether an active subscription asks for this event.
pub async fn has_subscriber(conn: &mut AsyncPgConnection, event_type: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::is_active)
            .filter(webhook_subscriptions::events.contains(vec![Some(event_type.to_owned())])),
    ))
    .get_result(conn)
    .await
}

/// Enqueues deliveries of one event; returns how many were enqueued.
pub async fn emit(
    conn: &mut AsyncPgConnection,
    event_type: &str,
    data: Value,
) -> QueryResult<usize> {
    let subs: Vec<Uuid> = webhook_subscriptions::table
        .filter(webhook_subscriptions::is_active)
        .filter(webhook_subscriptions::events.contains(vec![Some(event_type.to_owned())]))
        .select(webhook_subscriptions::id)
        .load(conn)
        .await?;
    let event_id = Uuid::new_v4();
    let occurred_at = Utc::now();
    for subscription_id in &subs {
        let payload = DeliverWebhookPayload {
            subscription_id: *subscription_id,
            event_id,
            event_type: event_type.to_owned(),
            occurred_at,
            data: data.clone(),
        };
        let mut task = NewTask::of::<DeliverWebhook>(&payload)
            .map_err(|e| diesel::result::Error::SerializationError(e.into()))?;
        task.idempotency_key = Some(format!("{event_id}:{subscription_id}"));
        task.task_name = Some(format!("{event_type} → webhook"));
        queue::enqueue(conn, &task).await?;
    }
    Ok(subs.len())
}
