//! Integration tests of presswork-api: the production app, in process, over a
//! real PostgreSQL database of its own per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a failed step must stop the test loudly"
)]

mod access;
mod allocator;
mod api_keys;
mod audit;
mod auth_flows;
mod auth_totp;
mod cms;
mod cms_cache;
mod commands_webhooks;
mod console;
mod content;
mod cors;
mod errors;
mod github;
mod health;
mod helpers;
mod http_semantics;
mod llm;
mod metrics;
mod openapi;
mod pools;
mod previews;
mod ratelimit;
mod rbac;
mod revisions;
mod secrets_in_logs;
mod settings;
mod social;
mod tasks;
