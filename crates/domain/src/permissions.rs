//! Permission names (`resource:action`), as seeded by the identity migration.

pub const POSTS_READ_DRAFTS: &str = "posts:read_drafts";
pub const POSTS_CREATE: &str = "posts:create";
pub const POSTS_UPDATE_OWN: &str = "posts:update_own";
pub const POSTS_UPDATE: &str = "posts:update";
pub const POSTS_DELETE: &str = "posts:delete";
pub const POSTS_PUBLISH: &str = "posts:publish";
pub const TAXONOMY_WRITE: &str = "taxonomy:write";
pub const CONTENT_READ: &str = "content:read";
pub const CONTENT_CREATE: &str = "content:create";
pub const CONTENT_APPROVE: &str = "content:approve";
pub const TASKS_READ: &str = "tasks:read";
pub const TASKS_CREATE: &str = "tasks:create";
pub const TASKS_MANAGE: &str = "tasks:manage";
pub const SETTINGS_READ: &str = "settings:read";
pub const SETTINGS_WRITE: &str = "settings:write";
pub const USERS_READ: &str = "users:read";
pub const USERS_ADMIN: &str = "users:admin";
pub const API_KEYS_MANAGE: &str = "api_keys:manage";
pub const API_KEYS_ADMIN: &str = "api_keys:admin";
pub const MODELS_READ: &str = "models:read";
pub const MODELS_TEST: &str = "models:test";
pub const METRICS_READ: &str = "metrics:read";
pub const AUDIT_READ: &str = "audit:read";

/// Every permission, in the order of the grant matrix in docs/API.md.
pub const ALL: [&str; 23] = [
    POSTS_READ_DRAFTS,
    POSTS_CREATE,
    POSTS_UPDATE_OWN,
    POSTS_UPDATE,
    POSTS_DELETE,
    POSTS_PUBLISH,
    TAXONOMY_WRITE,
    CONTENT_READ,
    CONTENT_CREATE,
    CONTENT_APPROVE,
    TASKS_READ,
    TASKS_CREATE,
    TASKS_MANAGE,
    SETTINGS_READ,
    SETTINGS_WRITE,
    USERS_READ,
    USERS_ADMIN,
    API_KEYS_MANAGE,
    API_KEYS_ADMIN,
    MODELS_READ,
    MODELS_TEST,
    METRICS_READ,
    AUDIT_READ,
];

pub fn is_known(name: &str) -> bool {
    ALL.contains(&name)
}
