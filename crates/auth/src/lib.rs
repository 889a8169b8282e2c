//! Presswork's identity logic: password hashing, access and refresh tokens,
//! TOTP, API-key format and permission checks.
//!
//! No HTTP in it: the API turns a request into a principal and asks this
//! crate. SQL stays in `presswork_db`.
//!
//! Filled by the identity-and-access issue.
