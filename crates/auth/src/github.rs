//! GitHub OAuth (web application flow): authorize URL with a signed,
//! short-lived `state`, code exchange, user and verified primary email.
//! Base URLs are configurable so tests run the flow against a local server.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use presswork_db::AsyncConnection;
use presswork_db::AsyncPgConnection;
use presswork_db::models::user;

use crate::AuthError;
use crate::crypto::{constant_time_eq, random_token};
use crate::users::{db, user_conflict};

/// How long a sign-in may take between the redirect and the callback.
pub const STATE_TTL_SECS: i64 = 600;

#[derive(Clone)]
pub struct GithubConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: String,
    pub token_url: String,
    pub api_url: String,
    pub redirect_uri: Option<String>,
    /// Key for signing `state` (derived from the JWT secret by the caller).
    pub state_key: Vec<u8>,
    pub timeout: Duration,
}

pub struct GithubClient {
    cfg: GithubConfig,
    http: reqwest::Client,
}

#[derive(Debug, Clone)]
pub struct GithubIdentity {
    pub id: i64,
    pub login: String,
    pub name: Option<String>,
    pub verified_primary_email: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct GithubUser {
    id: i64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct GithubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

type HmacSha256 = Hmac<Sha256>;

impl GithubClient {
    pub fn new(cfg: GithubConfig) -> Result<Self, AuthError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .user_agent(concat!("presswork/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuthError::Internal(format!("http client: {e}")))?;
        Ok(Self { cfg, http })
    }

    fn sign(&self, payload: &str) -> Result<String, AuthError> {
        let mut mac = HmacSha256::new_from_slice(&self.cfg.state_key)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        mac.update(payload.as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// A fresh signed state: `nonce.expiry.signature`.
    pub fn new_state(&self) -> Result<String, AuthError> {
        let nonce = random_token::<16>().map_err(|e| AuthError::Internal(e.to_string()))?;
        let payload = format!("{nonce}.{}", Utc::now().timestamp() + STATE_TTL_SECS);
        Ok(format!("{payload}.{}", self.sign(&payload)?))
    }

    /// Checks the signature and expiry of a state.
    pub fn verify_state(&self, state: &str) -> Result<(), AuthError> {
        let (payload, sig) = state.rsplit_once('.').ok_or(AuthError::InvalidOAuthState)?;
        let expected = self.sign(payload)?;
        if !constant_time_eq(sig.as_bytes(), expected.as_bytes()) {
            return Err(AuthError::InvalidOAuthState);
        }
        let expiry: i64 = payload
            .rsplit_once('.')
            .and_then(|(_, e)| e.parse().ok())
            .ok_or(AuthError::InvalidOAuthState)?;
        if expiry < Utc::now().timestamp() {
            return Err(AuthError::InvalidOAuthState);
        }
        Ok(())
    }

    /// The URL to send the browser to.
    pub fn authorize_url(&self, state: &str) -> Result<String, AuthError> {
        let mut url = url::Url::parse(&self.cfg.authorize_url)
            .map_err(|e| AuthError::Internal(format!("GitHub authorize URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.cfg.client_id)
                .append_pair("scope", "read:user user:email")
                .append_pair("state", state)
                .append_pair("allow_signup", "false");
            if let Some(redirect) = &self.cfg.redirect_uri {
                q.append_pair("redirect_uri", redirect);
            }
        }
        Ok(url.to_string())
    }

    fn upstream(e: reqwest::Error) -> AuthError {
        // Never the URL with its query (it can carry the code).
        AuthError::OAuthUpstream(if e.is_timeout() {
            "timed out".into()
        } else {
            "request failed".into()
        })
    }

    /// Exchanges the code for a token, then reads the user and their emails.
    pub async fn exchange_and_fetch(&self, code: &str) -> Result<GithubIdentity, AuthError> {
        let mut form = vec![
            ("client_id", self.cfg.client_id.as_str()),
            ("client_secret", self.cfg.client_secret.expose_secret()),
            ("code", code),
        ];
        if let Some(redirect) = &self.cfg.redirect_uri {
            form.push(("redirect_uri", redirect));
        }
        let res = self
            .http
            .post(&self.cfg.token_url)
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(Self::upstream)?;
        if res.status().is_server_error() {
            return Err(AuthError::OAuthUpstream(format!(
                "token endpoint answered {}",
                res.status()
            )));
        }
        let token: TokenResponse = res
            .json()
            .await
            .map_err(|_| AuthError::OAuthUpstream("unreadable token response".into()))?;
        let access = match (token.access_token, token.error) {
            (Some(t), None) => t,
            (_, Some(error)) => {
                return Err(AuthError::OAuthDenied(format!(
                    "{error}: {}",
                    token.error_description.unwrap_or_default()
                )));
            }
            (None, None) => {
                return Err(AuthError::OAuthUpstream(
                    "no access token in the response".into(),
                ));
            }
        };
        let api = self.cfg.api_url.trim_end_matches('/');
        let user: GithubUser = self.get_json(&format!("{api}/user"), &access).await?;
        let emails: Vec<GithubEmail> = self
            .get_json(&format!("{api}/user/emails"), &access)
            .await?;
        let verified_primary_email = emails
            .into_iter()
            .find(|e| e.primary && e.verified)
            .map(|e| e.email);
        Ok(GithubIdentity {
            id: user.id,
            login: user.login,
            name: user.name,
            verified_primary_email,
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        token: &str,
    ) -> Result<T, AuthError> {
        let res = self
            .http
            .get(url)
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(Self::upstream)?;
        let status = res.status();
        if status.is_client_error() {
            return Err(AuthError::OAuthDenied(format!(
                "GitHub API answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(AuthError::OAuthUpstream(format!(
                "GitHub API answered {status}"
            )));
        }
        res.json()
            .await
            .map_err(|_| AuthError::OAuthUpstream("unreadable GitHub API response".into()))
    }
}

/// The account behind a GitHub identity: the one linked to it, else the one
/// with its verified primary email (now linked), else a new viewer when
/// sign-up is open.
pub async fn account_for(
    conn: &mut AsyncPgConnection,
    allow_signup: bool,
    identity: &GithubIdentity,
) -> Result<user::User, AuthError> {
    let existing = match user::find_by_github_id(conn, identity.id)
        .await
        .map_err(db)?
    {
        Some(u) => Some(u),
        None => match &identity.verified_primary_email {
            Some(email) => {
                let by_email = user::find_by_login(conn, email).await.map_err(db)?;
                if let Some(u) = &by_email {
                    user::set_github_id(conn, u.id, identity.id)
                        .await
                        .map_err(user_conflict)?;
                }
                by_email
            }
            None => None,
        },
    };
    if let Some(u) = existing {
        return Ok(u);
    }
    if !allow_signup {
        return Err(AuthError::SignupDisabled);
    }
    let email = identity.verified_primary_email.clone().ok_or_else(|| {
        AuthError::OAuthDenied("the GitHub account has no verified primary email".into())
    })?;
    let username = free_username(conn, &identity.login).await?;
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
    .await
}

async fn free_username(conn: &mut AsyncPgConnection, login: &str) -> Result<String, AuthError> {
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
