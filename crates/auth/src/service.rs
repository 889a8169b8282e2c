//! `AuthService`: the identity flows with what they share in one process —
//! the pool, the token issuer, the secret box, the settings, GitHub's client
//! and the in-memory limits. Each method checks out one connection and calls
//! the flow, which lives by concern in a module of functions over
//! `&mut AsyncPgConnection` (so a caller can run one inside its own
//! transaction): [`crate::login`], [`crate::sessions`], [`crate::keys`],
//! [`crate::two_factor`], [`crate::users`], [`crate::github`].

use std::net::IpAddr;
use std::time::Duration;

use presswork_db::models::{api_key, session, user};
use presswork_db::{DbError, Pool};
use secrecy::SecretString;
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::github::{GithubClient, GithubConfig};
use crate::principal::Principal;
use crate::ratelimit::RateLimiter;
use crate::tokens::TokenIssuer;
use crate::users::db;
use crate::{AuthError, github, keys, login, sessions, two_factor, users};

pub use crate::keys::{CreatedApiKey, NewApiKeyRequest, ip_allowed};
pub use crate::login::{ClientInfo, LoginStep};
pub use crate::sessions::IssuedTokens;
pub use crate::two_factor::TotpSetup;
pub use crate::users::UserSummary;

/// Tunables, from configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub allow_signup: bool,
    pub lockout_threshold: i32,
    pub lockout: Duration,
    pub refresh_ttl: Duration,
    pub login_attempts_per_ip: u32,
    pub login_window: Duration,
    /// The least zxcvbn score a new password needs (0 to 4).
    pub min_password_score: u8,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            allow_signup: false,
            lockout_threshold: 5,
            lockout: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            login_attempts_per_ip: 30,
            login_window: Duration::from_secs(5 * 60),
            min_password_score: 3,
        }
    }
}

/// What the flows need besides a connection: the issuer of tokens, the box
/// that opens TOTP secrets, and the settings.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub tokens: &'a TokenIssuer,
    pub cipher: Option<&'a SecretBox>,
    pub settings: &'a AuthSettings,
}

pub struct AuthService {
    pool: Pool,
    tokens: TokenIssuer,
    cipher: Option<SecretBox>,
    settings: AuthSettings,
    login_limiter: RateLimiter,
    key_limiter: RateLimiter,
    github: Option<GithubClient>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    pub fn new(
        pool: Pool,
        tokens: TokenIssuer,
        cipher: Option<SecretBox>,
        settings: AuthSettings,
        github: Option<GithubConfig>,
    ) -> Result<Self, AuthError> {
        let github = github.map(GithubClient::new).transpose()?;
        Ok(Self {
            pool,
            tokens,
            cipher,
            settings,
            login_limiter: RateLimiter::new(),
            key_limiter: RateLimiter::new(),
            github,
        })
    }

    pub fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    pub fn cipher(&self) -> Option<&SecretBox> {
        self.cipher.as_ref()
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn github(&self) -> Option<&GithubClient> {
        self.github.as_ref()
    }

    pub fn keys(&self) -> Keys<'_> {
        Keys {
            tokens: &self.tokens,
            cipher: self.cipher.as_ref(),
            settings: &self.settings,
        }
    }

    async fn conn(&self) -> Result<presswork_db::PooledConnection, AuthError> {
        Ok(self.pool.get().await.map_err(DbError::from)?)
    }

    pub async fn user_summary(&self, user_id: Uuid) -> Result<UserSummary, AuthError> {
        let mut conn = self.conn().await?;
        let u = user::find(&mut conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        users::summary(&mut conn, &u).await
    }

    /// Creates a user with the given roles after checking the password policy.
    pub async fn create_user(
        &self,
        email: &str,
        username: &str,
        password: SecretString,
        roles: &[String],
    ) -> Result<UserSummary, AuthError> {
        // Hashed before a connection is taken: argon2 takes a while.
        let account = users::NewAccount::prepare(
            email,
            username,
            password,
            roles,
            self.settings.min_password_score,
        )
        .await?;
        let mut conn = self.conn().await?;
        users::create(&mut conn, &account).await
    }

    /// Self-service sign-up, only when `auth.allow_signup` is on; new users are viewers.
    pub async fn register(
        &self,
        email: &str,
        username: &str,
        password: SecretString,
    ) -> Result<UserSummary, AuthError> {
        if !self.settings.allow_signup {
            return Err(AuthError::SignupDisabled);
        }
        self.create_user(email, username, password, &["viewer".to_owned()])
            .await
    }

    /// The first administrator; refused (409) once any user exists.
    pub async fn init_admin(
        &self,
        email: &str,
        username: &str,
        password: SecretString,
    ) -> Result<UserSummary, AuthError> {
        let mut conn = self.conn().await?;
        users::init_admin(
            &mut conn,
            self.settings.min_password_score,
            email,
            username,
            password,
        )
        .await
    }

    fn limit_login_address(&self, client: &ClientInfo) -> Result<(), AuthError> {
        if let Some(ip) = client.ip {
            self.login_limiter
                .hit(
                    &format!("login:{ip}"),
                    self.settings.login_attempts_per_ip,
                    self.settings.login_window,
                )
                .map_err(|retry| AuthError::TooManyAttempts {
                    retry_after_s: retry.as_secs().max(1),
                })?;
        }
        Ok(())
    }

    /// Password login with lockout, per-IP limit and TOTP (or a backup code).
    pub async fn login(
        &self,
        login: &str,
        password: SecretString,
        totp_code: Option<&str>,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        self.limit_login_address(client)?;
        let outcome = async {
            let keys = self.keys();
            let mut conn = self.conn().await?;
            let u = login::first_factor(&mut conn, &keys, login, password).await?;
            if u.totp_enabled {
                let Some(code) = totp_code.map(str::trim).filter(|c| !c.is_empty()) else {
                    return Err(AuthError::TotpRequired);
                };
                login::second_factor(&mut conn, &keys, &u, code).await?;
            }
            login::finish_login(&mut conn, &keys, &u, client).await
        }
        .await;
        self.audit_login(login, client, outcome.as_ref().map(|t| t.user.id))
            .await;
        outcome
    }

    /// Records a sign-in attempt in the audit trail: success with the user,
    /// a failure or a refusal by lockout with the name tried. A step that
    /// only asks for the second factor is not an attempt's end and records
    /// nothing. A failure to record is logged; the answer stays the
    /// attempt's own.
    async fn audit_login(
        &self,
        name: &str,
        client: &ClientInfo,
        outcome: Result<Uuid, &AuthError>,
    ) {
        use presswork_db::audit::{Actor, Context, Event};
        use presswork_domain::status::AuditAction;
        let label: String = name.trim().chars().take(100).collect();
        let (action, actor, summary) = match outcome {
            Ok(user) => (
                AuditAction::LoginSucceeded,
                Actor::user(user, None),
                serde_json::json!({}),
            ),
            Err(AuthError::TotpRequired) => return,
            Err(e) => {
                let action = if matches!(e, AuthError::AccountLocked { .. }) {
                    AuditAction::LockedOut
                } else {
                    AuditAction::LoginFailed
                };
                let actor = Actor::anonymous(Some(label.clone()));
                // The errors' messages are fixed texts; a server-side
                // failure is not described.
                let reason = match e {
                    AuthError::Db(_) | AuthError::Internal(_) | AuthError::Unavailable(_) => {
                        "server error".to_owned()
                    }
                    other => other.to_string(),
                };
                (action, actor, serde_json::json!({ "reason": reason }))
            }
        };
        let ctx = Context::new(actor, &client.audit_request());
        let ev = Event::new(action, "login", label).with(summary);
        let recorded = match self.conn().await {
            Ok(mut conn) => presswork_db::audit::record(&mut conn, &ctx, ev)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = recorded {
            tracing::error!(error = %e, "a sign-in attempt could not be recorded in the audit trail");
        }
    }

    /// The password step of a two-step login (forms): signed in, or a
    /// short-lived ticket for [`login_second_factor`](Self::login_second_factor)
    /// when the account has TOTP. The password is never needed again.
    pub async fn login_first_factor(
        &self,
        login: &str,
        password: SecretString,
        client: &ClientInfo,
    ) -> Result<LoginStep, AuthError> {
        self.limit_login_address(client)?;
        let outcome = async {
            let keys = self.keys();
            let mut conn = self.conn().await?;
            let u = login::first_factor(&mut conn, &keys, login, password).await?;
            if u.totp_enabled {
                return Ok(LoginStep::SecondFactor {
                    ticket: self.tokens.issue_ticket(u.id)?,
                });
            }
            Ok(LoginStep::SignedIn(
                login::finish_login(&mut conn, &keys, &u, client).await?,
            ))
        }
        .await;
        match &outcome {
            Ok(LoginStep::SecondFactor { .. }) => {}
            Ok(LoginStep::SignedIn(t)) => self.audit_login(login, client, Ok(t.user.id)).await,
            Err(e) => self.audit_login(login, client, Err(e)).await,
        }
        outcome
    }

    /// The TOTP (or backup code) step after [`login_first_factor`]. Wrong
    /// codes count towards the lockout like wrong passwords.
    pub async fn login_second_factor(
        &self,
        ticket: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        self.limit_login_address(client)?;
        let user_id = self.tokens.verify_ticket(ticket)?;
        let outcome = async {
            let mut conn = self.conn().await?;
            login::ticket_second_factor(&mut conn, &self.keys(), user_id, code, client).await
        }
        .await;
        // The name is the account's (the ticket proved the password): the
        // tokens carry it; only a refused code needs it looked up.
        let name = match &outcome {
            Ok(t) => t.user.username.clone(),
            Err(_) => self
                .user_summary(user_id)
                .await
                .map(|u| u.username)
                .unwrap_or_default(),
        };
        self.audit_login(&name, client, outcome.as_ref().map(|t| t.user.id))
            .await;
        outcome
    }

    /// Rotates a refresh token. Presenting a token that was already rotated
    /// revokes its whole family (someone else holds a copy).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        let mut conn = self.conn().await?;
        sessions::refresh(&mut conn, &self.keys(), refresh_token, client).await
    }

    /// Ends the login the session belongs to (its whole family).
    pub async fn logout(&self, session_id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        sessions::logout(&mut conn, session_id).await
    }

    /// The user's live sessions, each flagged when it belongs to the same
    /// login as `current`.
    pub async fn list_sessions(
        &self,
        user_id: Uuid,
        current: Option<Uuid>,
    ) -> Result<Vec<(session::Session, bool)>, AuthError> {
        let mut conn = self.conn().await?;
        sessions::list_sessions(&mut conn, user_id, current).await
    }

    /// Revokes one of the user's sessions (404 for someone else's).
    pub async fn revoke_session(&self, user_id: Uuid, session_id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        sessions::revoke_session(&mut conn, user_id, session_id).await
    }

    /// Needs the current password; revokes every other session of the user.
    pub async fn change_password(
        &self,
        user_id: Uuid,
        current_session: Option<Uuid>,
        current: SecretString,
        new: SecretString,
    ) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        users::change_password(
            &mut conn,
            self.settings.min_password_score,
            user_id,
            current_session,
            current,
            new,
        )
        .await
    }

    /// Turns an access token into a principal, checking its session is alive
    /// and loading current permissions.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, AuthError> {
        let mut conn = self.conn().await?;
        sessions::authenticate_token(&mut conn, &self.keys(), token).await
    }

    /// Turns a session's secret (the console's cookie) into a principal.
    pub async fn authenticate_session_secret(&self, secret: &str) -> Result<Principal, AuthError> {
        let mut conn = self.conn().await?;
        sessions::authenticate_session_secret(&mut conn, secret).await
    }

    /// Turns an API key into a principal holding the key's permissions that
    /// its owner still holds.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        ip: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let mut conn = self.conn().await?;
        keys::authenticate_api_key(&mut conn, &self.key_limiter, key, ip).await
    }

    pub async fn create_api_key(
        &self,
        creator: &Principal,
        req: NewApiKeyRequest,
    ) -> Result<CreatedApiKey, AuthError> {
        let mut conn = self.conn().await?;
        keys::create_api_key(&mut conn, creator, req).await
    }

    /// Own keys; everyone's with `api_keys:admin`.
    pub async fn list_api_keys(
        &self,
        principal: &Principal,
    ) -> Result<Vec<api_key::ApiKey>, AuthError> {
        let mut conn = self.conn().await?;
        keys::list_api_keys(&mut conn, principal).await
    }

    pub async fn revoke_api_key(&self, principal: &Principal, id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        keys::revoke_api_key(&mut conn, principal, id).await
    }

    /// Starts 2FA enrolment: a new secret, stored encrypted, not yet enabled.
    pub async fn totp_setup(&self, user_id: Uuid) -> Result<TotpSetup, AuthError> {
        let mut conn = self.conn().await?;
        two_factor::totp_setup(&mut conn, &self.keys(), user_id).await
    }

    /// Confirms enrolment with a code; returns the ten backup codes (shown once).
    pub async fn totp_enable(&self, user_id: Uuid, code: &str) -> Result<Vec<String>, AuthError> {
        let mut conn = self.conn().await?;
        two_factor::totp_enable(&mut conn, &self.keys(), user_id, code).await
    }

    pub async fn totp_disable(
        &self,
        user_id: Uuid,
        code: Option<&str>,
        password_given: Option<SecretString>,
    ) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        two_factor::totp_disable(&mut conn, &self.keys(), user_id, code, password_given).await
    }

    pub async fn regenerate_backup_codes(
        &self,
        user_id: Uuid,
        code: Option<&str>,
        password_given: Option<SecretString>,
    ) -> Result<Vec<String>, AuthError> {
        let mut conn = self.conn().await?;
        two_factor::regenerate_backup_codes(&mut conn, &self.keys(), user_id, code, password_given)
            .await
    }

    pub async fn list_users(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<UserSummary>, i64), AuthError> {
        let mut conn = self.conn().await?;
        users::list_users(&mut conn, limit, offset).await
    }

    /// Changes the active flag, display name and/or roles.
    pub async fn update_user(
        &self,
        actor: Uuid,
        id: Uuid,
        is_active: Option<bool>,
        display_name: Option<Option<String>>,
        roles: Option<Vec<String>>,
    ) -> Result<UserSummary, AuthError> {
        let mut conn = self.conn().await?;
        users::update_user(&mut conn, actor, id, is_active, display_name, roles).await
    }

    pub async fn delete_user(&self, actor: Uuid, id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        users::delete_user(&mut conn, actor, id).await
    }

    pub async fn list_roles(&self) -> Result<Vec<(String, String, Vec<String>)>, AuthError> {
        let mut conn = self.conn().await?;
        users::list_roles(&mut conn).await
    }

    /// Finds or creates the user behind a GitHub identity and opens a
    /// session; for an account with TOTP, a ticket for
    /// [`login_second_factor`](Self::login_second_factor) instead.
    pub async fn github_sign_in(
        &self,
        code: &str,
        client: &ClientInfo,
    ) -> Result<LoginStep, AuthError> {
        let gh = self
            .github
            .as_ref()
            .ok_or_else(|| AuthError::Unavailable("GitHub sign-in is not configured".into()))?;
        let identity = gh.exchange_and_fetch(code).await?;
        let mut conn = self.conn().await?;
        let u = github::account_for(&mut conn, self.settings.allow_signup, &identity).await?;
        if !u.is_active {
            self.audit_login(&u.username, client, Err(&AuthError::AccountDisabled))
                .await;
            return Err(AuthError::AccountDisabled);
        }
        // GitHub stands in for the password, not for the second factor.
        if u.totp_enabled {
            tracing::info!(user.id = %u.id, "GitHub sign-in awaits the second factor");
            return Ok(LoginStep::SecondFactor {
                ticket: self.tokens.issue_ticket(u.id)?,
            });
        }
        let tokens = login::finish_login(&mut conn, &self.keys(), &u, client).await?;
        self.audit_login(&u.username, client, Ok(u.id)).await;
        Ok(LoginStep::SignedIn(tokens))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    #[test]
    fn ip_allow_list() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(ip_allowed(ip, &["10.0.0.0/8"]));
        assert!(ip_allowed(ip, &["192.168.0.1", "10.1.2.3"]));
        assert!(!ip_allowed(ip, &["10.1.2.4", "192.168.0.0/16"]));
        assert!(!ip_allowed(ip, &["garbage"]));
    }

    #[test]
    fn issued_tokens_never_show_their_tokens_in_debug() {
        let t = IssuedTokens {
            access_token: "eyJ.access-secret".into(),
            refresh_token: "refresh-secret-value".into(),
            expires_in: 900,
            session_id: Uuid::nil(),
            user: UserSummary {
                id: Uuid::nil(),
                email: "a@example.com".into(),
                username: "a".into(),
                display_name: None,
                is_active: true,
                roles: vec![],
                totp_enabled: false,
                created_at: Utc::now(),
                last_login_at: None,
            },
        };
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("access-secret") && !shown.contains("refresh-secret"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]") && shown.contains("a@example.com"));
    }
}
