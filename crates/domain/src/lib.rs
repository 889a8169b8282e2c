//! Presswork's domain: plain types, parsing and validation, domain errors.
//!
//! Everything here is pure. It must not do I/O, and must not depend on tokio,
//! reqwest, actix or diesel (checked by `scripts/check-layers.sh`). Types parse
//! their input (`Slug::parse`) and keep their invariants private, so code that
//! holds one never has to re-check it.
//!
//! The optional `runtime` feature holds the process bootstrap the three
//! binaries share (layered configuration loading and tracing set-up); it is
//! the one place in this crate that reads the environment.

pub mod access;
pub mod chat;
pub mod config;
pub mod content;
pub mod error;
pub mod eval;
pub mod generation;
pub mod grounding;
pub mod ids;
pub mod markdown;
pub mod net;
pub mod period;
pub mod permissions;
pub mod post;
pub mod preview;
pub mod revision;
pub mod slug;
pub mod status;
pub mod tasks;

#[cfg(feature = "runtime")]
pub mod runtime;

pub use error::DomainError;
pub use slug::Slug;
