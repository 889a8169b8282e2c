//! The identity flows. Each takes what it needs, checks out one pooled
//! connection for its unit of work, and uses a transaction where several
//! writes must stand or fall together.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use presswork_db::models::{api_key, login_failure, role, session, user};
use presswork_db::{AsyncConnection, AsyncPgConnection, DbError, Pool, QueryError as DieselError};
use presswork_domain::permissions;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::crypto::SecretBox;
use crate::github::{GithubClient, GithubConfig};
use crate::principal::{Principal, PrincipalKind};
use crate::ratelimit::RateLimiter;
use crate::tokens::{TokenIssuer, new_refresh_token};
use crate::{AuthError, api_key as key_format, password, totp};

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

/// What login, refresh and GitHub sign-in hand back (its `Debug` leaves the
/// tokens out, so it can never log them).
#[derive(Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
    pub session_id: Uuid,
    pub user: UserSummary,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("session_id", &self.session_id)
            .field("user", &self.user)
            .finish()
    }
}

/// The outcome of the password step of a two-step login (no `Debug`: it
/// carries tokens).
pub enum LoginStep {
    SignedIn(IssuedTokens),
    /// The account has TOTP: send the code with this ticket.
    SecondFactor {
        ticket: String,
    },
}

/// Where a request came from, for sessions and limits.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

pub struct NewApiKeyRequest {
    pub name: String,
    pub permissions: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub allowed_ips: Vec<String>,
    pub rate_limit_per_hour: Option<i32>,
}

pub struct CreatedApiKey {
    pub key: String,
    pub row: api_key::ApiKey,
}

pub struct TotpSetup {
    pub provisioning: totp::Provisioning,
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

pub use crate::users::UserSummary;
use crate::users::{db, user_conflict, validate_identity};

/// The answer to a locked name or account.
fn locked(until: DateTime<Utc>) -> AuthError {
    AuthError::AccountLocked {
        retry_after_s: (until - Utc::now()).num_seconds().max(1) as u64,
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

    async fn conn(&self) -> Result<presswork_db::PooledConnection, AuthError> {
        Ok(self.pool.get().await.map_err(DbError::from)?)
    }

    pub async fn summary(
        &self,
        conn: &mut AsyncPgConnection,
        u: &user::User,
    ) -> Result<UserSummary, AuthError> {
        crate::users::summary(conn, u).await
    }

    pub async fn user_summary(&self, user_id: Uuid) -> Result<UserSummary, AuthError> {
        let mut conn = self.conn().await?;
        let u = user::find(&mut conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        self.summary(&mut conn, &u).await
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
        let account = crate::users::NewAccount::prepare(
            email,
            username,
            password,
            roles,
            self.settings.min_password_score,
        )
        .await?;
        let mut conn = self.conn().await?;
        crate::users::create(&mut conn, &account).await
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

    /// The first administrator; refused (409) once any user exists. Serialised
    /// by an advisory lock so two concurrent calls cannot both succeed.
    pub async fn init_admin(
        &self,
        email: &str,
        username: &str,
        password: SecretString,
    ) -> Result<UserSummary, AuthError> {
        let email = email.trim().to_owned();
        let username = username.trim().to_owned();
        validate_identity(&email, &username)?;
        password::check_policy(
            password.expose_secret(),
            &[&email, &username],
            self.settings.min_password_score,
        )?;
        let hash = password::hash_async(password).await?;
        let mut conn = self.conn().await?;
        let created = conn
            .transaction::<_, AuthError, _>(async |conn| {
                presswork_db::locks::xact_lock(conn, presswork_db::locks::INIT_ADMIN)
                    .await
                    .map_err(db)?;
                if user::count(conn).await.map_err(db)? > 0 {
                    return Err(AuthError::Conflict {
                        code: "already_initialised",
                        message: "an administrator already exists".into(),
                    });
                }
                let u = user::insert(
                    conn,
                    &user::NewUser {
                        email: &email,
                        username: &username,
                        display_name: None,
                        password_hash: Some(&hash),
                        github_id: None,
                    },
                )
                .await
                .map_err(user_conflict)?;
                user::set_roles(conn, u.id, &["admin".to_owned()])
                    .await
                    .map_err(db)?;
                Ok(u)
            })
            .await?;
        self.summary(&mut conn, &created).await
    }

    /// Password login with lockout, per-IP limit and TOTP (or a backup code).
    pub async fn login(
        &self,
        login: &str,
        password: SecretString,
        totp_code: Option<&str>,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        let mut conn = self.conn().await?;
        let u = self
            .first_factor(&mut conn, login, password, client)
            .await?;
        if u.totp_enabled {
            let Some(code) = totp_code.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(AuthError::TotpRequired);
            };
            self.second_factor(&mut conn, &u, code).await?;
        }
        self.finish_login(&mut conn, &u, client).await
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
        let mut conn = self.conn().await?;
        let u = self
            .first_factor(&mut conn, login, password, client)
            .await?;
        if u.totp_enabled {
            return Ok(LoginStep::SecondFactor {
                ticket: self.tokens.issue_ticket(u.id)?,
            });
        }
        Ok(LoginStep::SignedIn(
            self.finish_login(&mut conn, &u, client).await?,
        ))
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
        let mut conn = self.conn().await?;
        let u = user::find(&mut conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::InvalidToken)?;
        if let Some(until) = u.locked_until.filter(|t| *t > Utc::now()) {
            return Err(locked(until));
        }
        if !u.is_active {
            return Err(AuthError::AccountDisabled);
        }
        if !u.totp_enabled {
            return Err(AuthError::InvalidToken);
        }
        let code = code.trim();
        if code.is_empty() {
            return Err(AuthError::InvalidTotp);
        }
        self.second_factor(&mut conn, &u, code).await?;
        self.finish_login(&mut conn, &u, client).await
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

    async fn second_factor(
        &self,
        conn: &mut AsyncPgConnection,
        u: &user::User,
        code: &str,
    ) -> Result<(), AuthError> {
        if self.check_second_factor(conn, u, code).await? {
            return Ok(());
        }
        Err(match self.failed_login(conn, u.id).await {
            locked @ AuthError::AccountLocked { .. } => locked,
            _ => AuthError::InvalidTotp,
        })
    }

    async fn finish_login(
        &self,
        conn: &mut AsyncPgConnection,
        u: &user::User,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        user::record_successful_login(conn, u.id)
            .await
            .map_err(db)?;
        let tokens = self.start_session(conn, u, Uuid::new_v4(), client).await?;
        tracing::info!(user.id = %u.id, session.id = %tokens.session_id, "login succeeded");
        Ok(tokens)
    }

    /// Password check with lockout and the per-address limit; the user, if
    /// the password is right and the account usable.
    ///
    /// The lockout counts failures per login name whether or not an account
    /// has it (`login_failures`), and every name takes the same steps — the
    /// lock check, the lookup, one password hash, one write on failure — so
    /// neither the answers nor their timing say which names exist.
    async fn first_factor(
        &self,
        conn: &mut AsyncPgConnection,
        login: &str,
        password: SecretString,
        client: &ClientInfo,
    ) -> Result<user::User, AuthError> {
        self.limit_login_address(client)?;
        let key = login_failure::key_of(login);
        if key.is_empty() || key.chars().count() > 320 {
            return Err(AuthError::InvalidCredentials);
        }
        if let Some(until) = login_failure::locked_until(conn, &key).await.map_err(db)? {
            return Err(locked(until));
        }
        let found = user::find_by_login(conn, login.trim()).await.map_err(db)?;
        // An account locked by wrong second factors (the password was
        // right, so this reveals nothing a caller did not know).
        if let Some(until) = found
            .as_ref()
            .and_then(|u| u.locked_until)
            .filter(|t| *t > Utc::now())
        {
            return Err(locked(until));
        }
        let phc = found
            .as_ref()
            .and_then(|u| u.password_hash.clone())
            .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
        let verified = password::verify_async(password, phc).await;
        let user = found.filter(|u| verified && u.password_hash.is_some());
        let Some(u) = user else {
            let lock = chrono::Duration::from_std(self.settings.lockout)
                .unwrap_or(chrono::Duration::minutes(15));
            return Err(
                match login_failure::record(conn, &key, self.settings.lockout_threshold, lock)
                    .await
                    .map_err(db)?
                {
                    Some(until) => {
                        tracing::warn!("a login name locked after repeated failures");
                        locked(until)
                    }
                    None => AuthError::InvalidCredentials,
                },
            );
        };
        login_failure::clear(conn, &key).await.map_err(db)?;
        if !u.is_active {
            return Err(AuthError::AccountDisabled);
        }
        Ok(u)
    }

    /// Counts a wrong second factor against the account (its password was
    /// right).
    async fn failed_login(&self, conn: &mut AsyncPgConnection, user_id: Uuid) -> AuthError {
        let lock = chrono::Duration::from_std(self.settings.lockout)
            .unwrap_or(chrono::Duration::minutes(15));
        match user::record_failed_login(conn, user_id, self.settings.lockout_threshold, lock).await
        {
            Ok(Some(until)) => {
                tracing::warn!(user.id = %user_id, "account locked after repeated login failures");
                locked(until)
            }
            Ok(None) => AuthError::InvalidCredentials,
            Err(e) => db(e),
        }
    }

    /// A TOTP code (accepted once per time step) or an unused backup code.
    async fn check_second_factor(
        &self,
        conn: &mut AsyncPgConnection,
        u: &user::User,
        code: &str,
    ) -> Result<bool, AuthError> {
        let secret = self.totp_secret(u)?;
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let now = Utc::now().timestamp().max(0) as u64;
            return match totp::verify(&secret, &digits, now) {
                Some(step) => Ok(user::claim_totp_step(conn, u.id, step as i64)
                    .await
                    .map_err(db)?),
                None => Ok(false),
            };
        }
        let used = user::consume_backup_code(conn, u.id, &totp::hash_backup_code(code))
            .await
            .map_err(db)?;
        if used {
            tracing::info!(user.id = %u.id, "backup code used");
        }
        Ok(used)
    }

    fn totp_secret(&self, u: &user::User) -> Result<Vec<u8>, AuthError> {
        let sealed = u
            .totp_secret_encrypted
            .as_deref()
            .ok_or_else(|| AuthError::Internal("TOTP enabled without a secret".into()))?;
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            AuthError::Unavailable(
                "PRESSWORK_ENCRYPTION_KEY is not configured; 2FA secrets cannot be read".into(),
            )
        })?;
        cipher
            .open(sealed)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }

    async fn start_session(
        &self,
        conn: &mut AsyncPgConnection,
        u: &user::User,
        family_id: Uuid,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        let (refresh, refresh_hash) = new_refresh_token()?;
        let ip = client.ip.map(|ip| ip.to_string());
        let ua: Option<String> = client
            .user_agent
            .as_ref()
            .map(|s| s.chars().take(512).collect());
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.settings.refresh_ttl)
                .unwrap_or(chrono::Duration::days(30));
        let s = session::insert(
            conn,
            &session::NewSession {
                user_id: u.id,
                family_id,
                refresh_token_hash: &refresh_hash,
                expires_at,
                ip: ip.as_deref(),
                user_agent: ua.as_deref(),
            },
        )
        .await
        .map_err(db)?;
        let summary = self.summary(conn, u).await?;
        let (access, expires_in) = self.tokens.issue(u.id, s.id, summary.roles.clone())?;
        Ok(IssuedTokens {
            access_token: access,
            refresh_token: refresh,
            expires_in,
            session_id: s.id,
            user: summary,
        })
    }

    /// Rotates a refresh token. Presenting a token that was already rotated
    /// revokes its whole family (someone else holds a copy).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<IssuedTokens, AuthError> {
        let hash = crate::crypto::sha256_hex(refresh_token.trim());
        let mut conn = self.conn().await?;
        let outcome = conn
            .transaction::<_, AuthError, _>(async |conn| {
                let s = session::find_by_token_hash(conn, &hash)
                    .await
                    .map_err(db)?
                    .ok_or(AuthError::InvalidRefreshToken)?;
                if s.revoked_at.is_some() {
                    return Err(AuthError::InvalidRefreshToken);
                }
                if s.rotated_at.is_some() || !session::mark_rotated(conn, s.id).await.map_err(db)? {
                    session::revoke_family(conn, s.family_id, "refresh token reuse")
                        .await
                        .map_err(db)?;
                    return Ok(Err((s.family_id, s.user_id)));
                }
                if s.expires_at <= Utc::now() {
                    return Err(AuthError::InvalidRefreshToken);
                }
                let u = user::find(conn, s.user_id)
                    .await
                    .map_err(db)?
                    .ok_or(AuthError::InvalidRefreshToken)?;
                if !u.is_active {
                    return Err(AuthError::AccountDisabled);
                }
                Ok(Ok(self
                    .start_session(conn, &u, s.family_id, client)
                    .await?))
            })
            .await?;
        match outcome {
            Ok(tokens) => Ok(tokens),
            Err((family, user_id)) => {
                // Committed above: the revocation must stand although we answer 401.
                tracing::warn!(user.id = %user_id, session.family = %family, "refresh token reuse; session family revoked");
                Err(AuthError::RefreshTokenReused)
            }
        }
    }

    /// Ends the login the session belongs to (its whole family).
    pub async fn logout(&self, session_id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        let s = session::find(&mut conn, session_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        session::revoke_family(&mut conn, s.family_id, "logout")
            .await
            .map_err(db)?;
        Ok(())
    }

    /// The user's live sessions, each flagged when it belongs to the same
    /// login as `current` (the caller's session, possibly rotated since).
    pub async fn list_sessions(
        &self,
        user_id: Uuid,
        current: Option<Uuid>,
    ) -> Result<Vec<(session::Session, bool)>, AuthError> {
        let mut conn = self.conn().await?;
        let current_family = match current {
            Some(sid) => session::find(&mut conn, sid)
                .await
                .map_err(db)?
                .map(|s| s.family_id),
            None => None,
        };
        Ok(session::list_current(&mut conn, user_id)
            .await
            .map_err(db)?
            .into_iter()
            .map(|s| {
                let is_current = Some(s.family_id) == current_family;
                (s, is_current)
            })
            .collect())
    }

    /// Revokes one of the user's sessions (404 for someone else's).
    pub async fn revoke_session(&self, user_id: Uuid, session_id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        let s = session::find(&mut conn, session_id)
            .await
            .map_err(db)?
            .filter(|s| s.user_id == user_id)
            .ok_or(AuthError::NotFound)?;
        session::revoke_family(&mut conn, s.family_id, "revoked by user")
            .await
            .map_err(db)?;
        Ok(())
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
        let u = user::find(&mut conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        let phc = u
            .password_hash
            .clone()
            .unwrap_or_else(|| password::DUMMY_HASH.to_owned());
        if !(password::verify_async(current, phc).await && u.password_hash.is_some()) {
            return Err(AuthError::InvalidCredentials);
        }
        password::check_policy(
            new.expose_secret(),
            &[&u.email, &u.username],
            self.settings.min_password_score,
        )?;
        let hash = password::hash_async(new).await?;
        let keep_family = match current_session {
            Some(sid) => session::find(&mut conn, sid)
                .await
                .map_err(db)?
                .map(|s| s.family_id),
            None => None,
        };
        conn.transaction::<_, AuthError, _>(async |conn| {
            user::set_password_hash(conn, user_id, &hash)
                .await
                .map_err(db)?;
            session::revoke_all_for_user(conn, user_id, keep_family, "password changed")
                .await
                .map_err(db)?;
            Ok(())
        })
        .await?;
        tracing::info!(user.id = %user_id, "password changed; other sessions revoked");
        Ok(())
    }

    /// Turns an access token into a principal, checking its session is alive
    /// and loading current permissions.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, AuthError> {
        let claims = self.tokens.verify(token)?;
        let mut conn = self.conn().await?;
        let mut principal = self
            .session_principal(&mut conn, claims.sid, Some(claims.sub))
            .await?;
        principal.expires_at = DateTime::from_timestamp(claims.exp, 0);
        Ok(principal)
    }

    /// The principal of a live session of an active user, with current
    /// permissions; `expected_user` must own it when given.
    async fn session_principal(
        &self,
        conn: &mut AsyncPgConnection,
        session_id: Uuid,
        expected_user: Option<Uuid>,
    ) -> Result<Principal, AuthError> {
        let (user_id, session_alive, active) = session::access_check(conn, session_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::InvalidToken)?;
        if expected_user.is_some_and(|u| u != user_id) {
            return Err(AuthError::InvalidToken);
        }
        if !session_alive {
            return Err(AuthError::SessionRevoked);
        }
        if !active {
            return Err(AuthError::AccountDisabled);
        }
        let permissions: BTreeSet<String> = user::permission_names(conn, user_id)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
        Ok(Principal {
            kind: PrincipalKind::Session { session_id },
            user_id,
            permissions,
            expires_at: None,
        })
    }

    /// Turns a session's secret (its refresh token, held by the console in an
    /// HttpOnly cookie and never rotated there) into a principal with current
    /// permissions. A revoked, expired or rotated session is refused.
    pub async fn authenticate_session_secret(&self, secret: &str) -> Result<Principal, AuthError> {
        let hash = crate::crypto::sha256_hex(secret.trim());
        let mut conn = self.conn().await?;
        let s = session::find_by_token_hash(&mut conn, &hash)
            .await
            .map_err(db)?
            .ok_or(AuthError::InvalidToken)?;
        if s.revoked_at.is_some() || s.rotated_at.is_some() {
            return Err(AuthError::SessionRevoked);
        }
        if s.expires_at <= Utc::now() {
            return Err(AuthError::TokenExpired);
        }
        let mut principal = self
            .session_principal(&mut conn, s.id, Some(s.user_id))
            .await?;
        principal.expires_at = Some(s.expires_at);
        Ok(principal)
    }

    /// Turns an API key into a principal holding the key's permissions that
    /// its owner still holds.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        ip: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        if !key_format::looks_like_key(key) {
            return Err(AuthError::InvalidApiKey);
        }
        let mut conn = self.conn().await?;
        let k = api_key::find_by_hash(&mut conn, &key_format::hash(key))
            .await
            .map_err(db)?
            .ok_or(AuthError::InvalidApiKey)?;
        if k.revoked_at.is_some() {
            return Err(AuthError::ApiKeyRevoked);
        }
        if k.expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(AuthError::ApiKeyExpired);
        }
        let allowed: Vec<&str> = k.allowed_ips.iter().flatten().map(String::as_str).collect();
        if !allowed.is_empty() && !ip.is_some_and(|ip| ip_allowed(ip, &allowed)) {
            return Err(AuthError::ApiKeyIpNotAllowed);
        }
        if let Some(limit) = k.rate_limit_per_hour {
            self.key_limiter
                .hit(
                    &format!("key:{}", k.id),
                    limit.max(0) as u32,
                    Duration::from_secs(3600),
                )
                .map_err(|retry| AuthError::ApiKeyRateLimited {
                    retry_after_s: retry.as_secs().max(1),
                })?;
        }
        let owner = user::find(&mut conn, k.owner_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::InvalidApiKey)?;
        if !owner.is_active {
            return Err(AuthError::AccountDisabled);
        }
        let owner_permissions: BTreeSet<String> = user::permission_names(&mut conn, owner.id)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
        let permissions = k
            .permissions
            .iter()
            .flatten()
            .filter(|p| owner_permissions.contains(*p))
            .cloned()
            .collect();
        // At most one write a minute per key, not one per request.
        if k.last_used_at
            .is_none_or(|t| Utc::now() - t > chrono::Duration::seconds(60))
        {
            api_key::touch_last_used(&mut conn, k.id)
                .await
                .map_err(db)?;
        }
        Ok(Principal {
            kind: PrincipalKind::ApiKey { key_id: k.id },
            user_id: owner.id,
            permissions,
            expires_at: k.expires_at,
        })
    }

    pub async fn create_api_key(
        &self,
        creator: &Principal,
        req: NewApiKeyRequest,
    ) -> Result<CreatedApiKey, AuthError> {
        let name = req.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::validation("name", "must be 1 to 100 characters"));
        }
        if req.permissions.is_empty() {
            return Err(AuthError::validation(
                "permissions",
                "must list at least one permission",
            ));
        }
        for p in &req.permissions {
            if !permissions::is_known(p) {
                return Err(AuthError::validation(
                    "permissions",
                    format!("unknown permission {p}"),
                ));
            }
            // A key can never hold more than its creator.
            creator.require(p)?;
        }
        if req.expires_at.is_some_and(|t| t <= Utc::now()) {
            return Err(AuthError::validation("expires_at", "must be in the future"));
        }
        for ip in &req.allowed_ips {
            if ip.parse::<ipnet::IpNet>().is_err() && ip.parse::<IpAddr>().is_err() {
                return Err(AuthError::validation(
                    "allowed_ips",
                    format!("'{ip}' is not an address or CIDR block"),
                ));
            }
        }
        if req.rate_limit_per_hour.is_some_and(|n| n <= 0) {
            return Err(AuthError::validation(
                "rate_limit_per_hour",
                "must be positive",
            ));
        }
        let generated = key_format::generate()?;
        let mut conn = self.conn().await?;
        let perms: BTreeSet<String> = req.permissions.into_iter().collect();
        let row = api_key::insert(
            &mut conn,
            &api_key::NewApiKey {
                owner_id: creator.user_id,
                name,
                key_prefix: &generated.display_prefix,
                key_hash: &generated.hash,
                permissions: perms.into_iter().map(Some).collect(),
                allowed_ips: req.allowed_ips.into_iter().map(Some).collect(),
                rate_limit_per_hour: req.rate_limit_per_hour,
                expires_at: req.expires_at,
            },
        )
        .await
        .map_err(db)?;
        tracing::info!(api_key.id = %row.id, user.id = %creator.user_id, "API key created");
        Ok(CreatedApiKey {
            key: generated.full,
            row,
        })
    }

    /// Own keys; everyone's with `api_keys:admin`.
    pub async fn list_api_keys(
        &self,
        principal: &Principal,
    ) -> Result<Vec<api_key::ApiKey>, AuthError> {
        let mut conn = self.conn().await?;
        let owner = (!principal.has(permissions::API_KEYS_ADMIN)).then_some(principal.user_id);
        api_key::list(&mut conn, owner).await.map_err(db)
    }

    pub async fn revoke_api_key(&self, principal: &Principal, id: Uuid) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        let owner = (!principal.has(permissions::API_KEYS_ADMIN)).then_some(principal.user_id);
        if api_key::revoke(&mut conn, id, owner).await.map_err(db)? {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    /// Starts 2FA enrolment: a new secret, stored encrypted, not yet enabled.
    pub async fn totp_setup(&self, user_id: Uuid) -> Result<TotpSetup, AuthError> {
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            AuthError::Unavailable(
                "PRESSWORK_ENCRYPTION_KEY is not configured; 2FA cannot be enabled".into(),
            )
        })?;
        let mut conn = self.conn().await?;
        let u = user::find(&mut conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        if u.totp_enabled {
            return Err(AuthError::Conflict {
                code: "totp_already_enabled",
                message: "two-factor authentication is already enabled".into(),
            });
        }
        let secret = totp::new_secret()?;
        let sealed = cipher
            .seal(&secret)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        user::set_pending_totp_secret(&mut conn, user_id, &sealed)
            .await
            .map_err(db)?;
        Ok(TotpSetup {
            provisioning: totp::provisioning(&secret, &u.email)?,
        })
    }

    /// Confirms enrolment with a code; returns the ten backup codes (shown once).
    pub async fn totp_enable(&self, user_id: Uuid, code: &str) -> Result<Vec<String>, AuthError> {
        let mut conn = self.conn().await?;
        let u = user::find(&mut conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        if u.totp_enabled {
            return Err(AuthError::Conflict {
                code: "totp_already_enabled",
                message: "two-factor authentication is already enabled".into(),
            });
        }
        if u.totp_secret_encrypted.is_none() {
            return Err(AuthError::Conflict {
                code: "totp_not_set_up",
                message: "call /api/auth/2fa/setup first".into(),
            });
        }
        let secret = self.totp_secret(&u)?;
        let now = Utc::now().timestamp().max(0) as u64;
        let step = totp::verify(&secret, code, now).ok_or(AuthError::InvalidTotp)?;
        let (codes, hashes) = totp::new_backup_codes()?;
        user::enable_totp(&mut conn, user_id, step as i64, &hashes)
            .await
            .map_err(db)?;
        tracing::info!(user.id = %user_id, "two-factor authentication enabled");
        Ok(codes)
    }

    /// Checks a TOTP code (with replay protection), a backup code, or the password.
    async fn reauthenticate(
        &self,
        conn: &mut AsyncPgConnection,
        u: &user::User,
        code: Option<&str>,
        password_given: Option<SecretString>,
    ) -> Result<(), AuthError> {
        if let Some(code) = code.filter(|c| !c.trim().is_empty()) {
            return if self.check_second_factor(conn, u, code.trim()).await? {
                Ok(())
            } else {
                Err(AuthError::InvalidTotp)
            };
        }
        if let (Some(pw), Some(phc)) = (password_given, u.password_hash.clone()) {
            return if password::verify_async(pw, phc).await {
                Ok(())
            } else {
                Err(AuthError::InvalidCredentials)
            };
        }
        Err(AuthError::validation(
            "code",
            "a TOTP code or the password is required",
        ))
    }

    /// Loads a user with 2FA on and checks their proof (code or password).
    async fn reauthenticated_totp_user(
        &self,
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        code: Option<&str>,
        password_given: Option<SecretString>,
    ) -> Result<(), AuthError> {
        let u = user::find(conn, user_id)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        if !u.totp_enabled {
            return Err(AuthError::Conflict {
                code: "totp_not_enabled",
                message: "two-factor authentication is not enabled".into(),
            });
        }
        self.reauthenticate(conn, &u, code, password_given).await
    }

    pub async fn totp_disable(
        &self,
        user_id: Uuid,
        code: Option<&str>,
        password_given: Option<SecretString>,
    ) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        self.reauthenticated_totp_user(&mut conn, user_id, code, password_given)
            .await?;
        user::disable_totp(&mut conn, user_id).await.map_err(db)?;
        tracing::info!(user.id = %user_id, "two-factor authentication disabled");
        Ok(())
    }

    pub async fn regenerate_backup_codes(
        &self,
        user_id: Uuid,
        code: Option<&str>,
        password_given: Option<SecretString>,
    ) -> Result<Vec<String>, AuthError> {
        let mut conn = self.conn().await?;
        self.reauthenticated_totp_user(&mut conn, user_id, code, password_given)
            .await?;
        let (codes, hashes) = totp::new_backup_codes()?;
        user::set_backup_codes(&mut conn, user_id, &hashes)
            .await
            .map_err(db)?;
        Ok(codes)
    }

    pub async fn list_users(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<UserSummary>, i64), AuthError> {
        let mut conn = self.conn().await?;
        let rows = user::list(&mut conn, limit, offset).await.map_err(db)?;
        let total = user::count(&mut conn).await.map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        for u in &rows {
            out.push(self.summary(&mut conn, u).await?);
        }
        Ok((out, total))
    }

    /// Changes the active flag, display name and/or roles. Deactivating a user
    /// revokes their sessions so it takes effect at once.
    /// An administrator cannot deactivate themselves or drop their own admin
    /// role (the last way back in would be the database).
    pub async fn update_user(
        &self,
        actor: Uuid,
        id: Uuid,
        is_active: Option<bool>,
        display_name: Option<Option<String>>,
        roles: Option<Vec<String>>,
    ) -> Result<UserSummary, AuthError> {
        if actor == id
            && (is_active == Some(false)
                || roles
                    .as_ref()
                    .is_some_and(|r| !r.iter().any(|r| r == "admin")))
        {
            return Err(AuthError::Conflict {
                code: "cannot_demote_self",
                message: "you cannot deactivate yourself or drop your own admin role".into(),
            });
        }
        let mut conn = self.conn().await?;
        let updated = conn
            .transaction::<_, AuthError, _>(async |conn| {
                let changes = user::UserChanges {
                    email: None,
                    display_name: display_name.as_ref().map(|d| d.as_deref()),
                    is_active,
                };
                let u = user::update(conn, id, &changes)
                    .await
                    .map_err(db)?
                    .ok_or(AuthError::NotFound)?;
                if let Some(roles) = &roles {
                    user::set_roles(conn, id, roles)
                        .await
                        .map_err(|e| match e {
                            DieselError::NotFound => AuthError::validation("roles", "unknown role"),
                            other => db(other),
                        })?;
                }
                if is_active == Some(false) {
                    session::revoke_all_for_user(conn, id, None, "account disabled")
                        .await
                        .map_err(db)?;
                }
                Ok(u)
            })
            .await?;
        self.summary(&mut conn, &updated).await
    }

    pub async fn delete_user(&self, actor: Uuid, id: Uuid) -> Result<(), AuthError> {
        if actor == id {
            return Err(AuthError::Conflict {
                code: "cannot_delete_self",
                message: "you cannot delete your own account".into(),
            });
        }
        let mut conn = self.conn().await?;
        if user::delete(&mut conn, id).await.map_err(db)? {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    pub async fn list_roles(&self) -> Result<Vec<(String, String, Vec<String>)>, AuthError> {
        let mut conn = self.conn().await?;
        role::list_with_permissions(&mut conn).await.map_err(db)
    }

    /// Finds or creates the user behind a GitHub identity and opens a
    /// session; for an account with TOTP, a ticket for
    /// [`login_second_factor`](Self::login_second_factor) instead.
    pub async fn github_sign_in(
        &self,
        code: &str,
        client: &ClientInfo,
    ) -> Result<LoginStep, AuthError> {
        let github = self
            .github
            .as_ref()
            .ok_or_else(|| AuthError::Unavailable("GitHub sign-in is not configured".into()))?;
        let identity = github.exchange_and_fetch(code).await?;
        let mut conn = self.conn().await?;
        let existing = match user::find_by_github_id(&mut conn, identity.id)
            .await
            .map_err(db)?
        {
            Some(u) => Some(u),
            None => match &identity.verified_primary_email {
                Some(email) => {
                    let by_email = user::find_by_login(&mut conn, email).await.map_err(db)?;
                    if let Some(u) = &by_email {
                        user::set_github_id(&mut conn, u.id, identity.id)
                            .await
                            .map_err(user_conflict)?;
                    }
                    by_email
                }
                None => None,
            },
        };
        let u = match existing {
            Some(u) => u,
            None => {
                if !self.settings.allow_signup {
                    return Err(AuthError::SignupDisabled);
                }
                let email = identity.verified_primary_email.clone().ok_or_else(|| {
                    AuthError::OAuthDenied(
                        "the GitHub account has no verified primary email".into(),
                    )
                })?;
                let username = self.free_username(&mut conn, &identity.login).await?;
                conn.transaction::<_, AuthError, _>(async |conn| {
                    let u = user::insert(
                        conn,
                        &user::NewUser {
                            email: &email,
                            username: &username,
                            display_name: identity.name.as_deref(),
                            password_hash: None,
                            github_id: Some(identity.id),
                        },
                    )
                    .await
                    .map_err(user_conflict)?;
                    user::set_roles(conn, u.id, &["viewer".to_owned()])
                        .await
                        .map_err(db)?;
                    Ok(u)
                })
                .await?
            }
        };
        if !u.is_active {
            return Err(AuthError::AccountDisabled);
        }
        // GitHub stands in for the password, not for the second factor.
        if u.totp_enabled {
            tracing::info!(user.id = %u.id, "GitHub sign-in awaits the second factor");
            return Ok(LoginStep::SecondFactor {
                ticket: self.tokens.issue_ticket(u.id)?,
            });
        }
        Ok(LoginStep::SignedIn(
            self.finish_login(&mut conn, &u, client).await?,
        ))
    }

    async fn free_username(
        &self,
        conn: &mut AsyncPgConnection,
        login: &str,
    ) -> Result<String, AuthError> {
        let base: String = login
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .take(40)
            .collect();
        let base = if base.len() < 3 {
            format!("gh-{base}")
        } else {
            base
        };
        for n in 0..100 {
            let candidate = if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            if user::find_by_login(conn, &candidate)
                .await
                .map_err(db)?
                .is_none()
            {
                return Ok(candidate);
            }
        }
        Err(AuthError::Conflict {
            code: "username_taken",
            message: "no free username derived from the GitHub login".into(),
        })
    }
}

/// Whether `ip` is one of the allowed addresses or inside one of the blocks.
pub fn ip_allowed(ip: IpAddr, allowed: &[&str]) -> bool {
    allowed.iter().any(|entry| {
        entry
            .parse::<ipnet::IpNet>()
            .map(|net| net.contains(&ip))
            .or_else(|_| entry.parse::<IpAddr>().map(|a| a == ip))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
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
