//! API keys over a connection: creating one (never more than its creator
//! holds), listing and revoking them, and turning a key into a
//! [`Principal`] (expiry, address list, hourly limit, the owner's current
//! permissions). The key format is [`crate::api_key`].

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use presswork_db::AsyncPgConnection;
use presswork_db::models::{api_key, user};
use presswork_domain::permissions;
use uuid::Uuid;

use crate::principal::{Principal, PrincipalKind};
use crate::ratelimit::RateLimiter;
use crate::users::db;
use crate::{AuthError, api_key as key_format};

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

/// Turns an API key into a principal holding the key's permissions that
/// its owner still holds.
pub async fn authenticate_api_key(
    conn: &mut AsyncPgConnection,
    limiter: &RateLimiter,
    key: &str,
    ip: Option<IpAddr>,
) -> Result<Principal, AuthError> {
    if !key_format::looks_like_key(key) {
        return Err(AuthError::InvalidApiKey);
    }
    let k = api_key::find_by_hash(conn, &key_format::hash(key))
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
        limiter
            .hit(
                &format!("key:{}", k.id),
                limit.max(0) as u32,
                Duration::from_secs(3600),
            )
            .map_err(|retry| AuthError::ApiKeyRateLimited {
                retry_after_s: retry.as_secs().max(1),
            })?;
    }
    let owner = user::find(conn, k.owner_id)
        .await
        .map_err(db)?
        .ok_or(AuthError::InvalidApiKey)?;
    if !owner.is_active {
        return Err(AuthError::AccountDisabled);
    }
    let owner_permissions: BTreeSet<String> = user::permission_names(conn, owner.id)
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
        api_key::touch_last_used(conn, k.id).await.map_err(db)?;
    }
    Ok(Principal {
        kind: PrincipalKind::ApiKey { key_id: k.id },
        user_id: owner.id,
        permissions,
        expires_at: k.expires_at,
    })
}

pub async fn create_api_key(
    conn: &mut AsyncPgConnection,
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
    let perms: BTreeSet<String> = req.permissions.into_iter().collect();
    let row = api_key::insert(
        conn,
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
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> Result<Vec<api_key::ApiKey>, AuthError> {
    let owner = (!principal.has(permissions::API_KEYS_ADMIN)).then_some(principal.user_id);
    api_key::list(conn, owner).await.map_err(db)
}

pub async fn revoke_api_key(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> Result<(), AuthError> {
    let owner = (!principal.has(permissions::API_KEYS_ADMIN)).then_some(principal.user_id);
    if api_key::revoke(conn, id, owner).await.map_err(db)? {
        Ok(())
    } else {
        Err(AuthError::NotFound)
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
