//! Who is calling, with what permissions. Built fresh on every request from
//! the database, so role and permission changes apply at the next request.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::AuthError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A user with an access token tied to a server-side session.
    Session { session_id: Uuid },
    /// An API key acting for its owner, limited to the key's permissions.
    ApiKey { key_id: Uuid },
}

#[derive(Debug, Clone)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub user_id: Uuid,
    pub permissions: BTreeSet<String>,
    /// When the credential stops working: the access token's `exp`, the
    /// console session's end, an API key's expiry (`None`: never).
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// Which content requests this caller sees and may manage.
    pub fn request_access(&self) -> presswork_domain::access::RequestAccess {
        presswork_domain::access::RequestAccess::new(self.user_id, |p| self.has(p))
    }

    /// What this caller may do to posts (edit others', publish, feature),
    /// with the request it came with (for the audit trail).
    pub fn post_actor(&self, request: presswork_db::audit::Request) -> presswork_db::cms::Actor {
        presswork_db::cms::Actor {
            user_id: self.user_id,
            can_update_any: self.has(presswork_domain::permissions::POSTS_UPDATE),
            can_publish: self.has(presswork_domain::permissions::POSTS_PUBLISH),
            via: match self.kind {
                PrincipalKind::Session { .. } => presswork_db::cms::Via::Api,
                PrincipalKind::ApiKey { key_id } => presswork_db::cms::Via::ApiKey(key_id),
            },
            request,
        }
    }

    /// Who this is in the audit trail, with the request it came with.
    pub fn audit_context(
        &self,
        request: &presswork_db::audit::Request,
    ) -> presswork_db::audit::Context {
        let key = match self.kind {
            PrincipalKind::ApiKey { key_id } => Some(key_id),
            PrincipalKind::Session { .. } => None,
        };
        presswork_db::audit::Context::new(
            presswork_db::audit::Actor::user(self.user_id, key),
            request,
        )
    }

    pub fn require(&self, permission: &str) -> Result<(), AuthError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                permission: permission.to_owned(),
            })
        }
    }

    pub fn session_id(&self) -> Option<Uuid> {
        match self.kind {
            PrincipalKind::Session { session_id } => Some(session_id),
            PrincipalKind::ApiKey { .. } => None,
        }
    }

    /// An id for logs: `user:<id>` or `key:<id>`; never a credential.
    pub fn log_id(&self) -> String {
        match self.kind {
            PrincipalKind::Session { .. } => format!("user:{}", self.user_id),
            PrincipalKind::ApiKey { key_id } => format!("key:{key_id}"),
        }
    }
}
