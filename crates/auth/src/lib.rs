//! Presswork's identity logic: password hashing, access and refresh tokens,
//! TOTP, API keys, encrypted secrets and permission checks, plus the flows
//! that combine them (login, refresh rotation, 2FA, key management,
//! GitHub sign-in, settings).
//!
//! No HTTP in it: the API turns a request into credentials and asks this crate
//! for a [`Principal`]. SQL stays in `presswork_db`; this crate calls its query
//! functions. There is no development-mode bypass of any kind.

pub mod api_key;
pub mod crypto;
pub mod error;
pub mod github;
pub mod keys;
pub mod login;
pub mod password;
pub mod preview_token;
pub mod principal;
pub mod ratelimit;
pub mod service;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod totp;
pub mod two_factor;
pub mod users;

pub use error::AuthError;
pub use principal::{Principal, PrincipalKind};
pub use service::AuthService;
