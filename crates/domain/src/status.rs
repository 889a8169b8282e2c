//! The statuses the database stores as text, as enums: a queued task's, a
//! content task's and its review's. Each is stored under exactly the names
//! in its table's CHECK constraint (a test in presswork_db compares them), and
//! read back through `FromStr`, so an unknown value is an error, never a
//! default. Outside this module, the migrations and tests, no status is
//! written as a string literal (`scripts/lint.sh` fails when one is).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// An enum stored as text (the database mapping in presswork_db reads and
/// writes any of these through this trait).
pub trait TextEnum: Copy + Sized + Send + Sync + 'static {
    /// The column it is stored in, for error messages.
    const FIELD: &'static str;
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;

    fn from_name(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|v| v.as_str()).collect()
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl TextEnum for $name {
            const FIELD: &'static str = $field;
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                TextEnum::as_str(self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::from_name(s).ok_or_else(|| {
                    DomainError::new($field, format!("must be one of {}", Self::names().join(", ")))
                })
            }
        }

        /// A string with exactly these values (utoipa's derive would not
        /// see the names given by this macro's `serde(rename)`).
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl From<$name> for &'static str {
            fn from(v: $name) -> &'static str {
                v.as_str()
            }
        }
    };
}

text_enum!(
    /// A post's place in the workflow (`posts.status`).
    PostStatus, "status" {
        Draft = "draft",
        Scheduled = "scheduled",
        Published = "published",
        Archived = "archived",
    }
);

text_enum!(
    /// A queued task (`tasks.status`).
    TaskStatus, "status" {
        /// Waiting for `run_at` and a worker (also after a retryable failure).
        Pending = "pending",
        /// Claimed by a worker holding a lease.
        Running = "running",
        Completed = "completed",
        /// Out of attempts, or failed for good: the dead letter.
        Failed = "failed",
        Cancelled = "cancelled",
    }
);

impl TaskStatus {
    /// Finished: it will not run again unless retried by hand.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

text_enum!(
    /// A content task (`content_tasks.status`): its generation, then its review.
    ContentStatus, "status" {
        Pending = "pending",
        Running = "running",
        AwaitingApproval = "awaiting_approval",
        /// Approved; the post it made (if any) is a draft or scheduled.
        Approved = "approved",
        Rejected = "rejected",
        /// Approved and published.
        Published = "published",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);

impl ContentStatus {
    /// A request in this state still stands for its topic: a new request
    /// on the same topic is a duplicate of it. A rejected, failed or
    /// cancelled one does not.
    pub fn holds_topic(self) -> bool {
        !matches!(self, Self::Rejected | Self::Failed | Self::Cancelled)
    }

    /// The generation has not finished: the pipeline may still write to it.
    pub fn is_generating(self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }

    /// The generation produced a draft that was, or is being, reviewed.
    pub fn has_draft(self) -> bool {
        matches!(
            self,
            Self::AwaitingApproval | Self::Approved | Self::Published
        )
    }

    /// A reviewer may send it back for a revision with feedback.
    pub const REVISABLE: [Self; 2] = [Self::AwaitingApproval, Self::Rejected];
}

text_enum!(
    /// The review of a content task (`content_tasks.approval_status`).
    ApprovalStatus, "approval_status" {
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
    }
);

text_enum!(
    /// What approving a blog post does (`content_tasks.publish_mode`):
    /// publish it (the default, as the original `approved: true` meant
    /// "approve and publish") or keep it a draft.
    #[derive(Default)]
    PublishMode, "publish_mode" {
        Draft = "draft",
        #[default]
        Publish = "publish",
    }
);

impl PublishMode {
    /// Reads a mode sent in `field`.
    pub fn parse(field: &str, s: &str) -> Result<Self, DomainError> {
        Self::from_name(s).ok_or_else(|| DomainError::new(field, "must be draft or publish"))
    }
}

text_enum!(
    /// One pipeline stage's outcome, as stored in `content_tasks.stages`.
    StageStatus, "status" {
        Done = "done",
        /// Not run: nothing asked for it, or a service it needs is not set up.
        Skipped = "skipped",
        /// Failed without failing the run (research, the image).
        Failed = "failed",
    }
);

text_enum!(
    /// What wrote a revision (`post_revisions.source`): a user or an API key
    /// through the API, the console, a reviewer's approval, the scheduled
    /// publisher, a restore of an earlier revision; for a review's versions,
    /// the pipeline (draft, refinements) and the reviewer's edits; the CLI.
    RevisionSource, "source" {
        Api = "api",
        Console = "console",
        Approval = "approval",
        Scheduler = "scheduler",
        Restore = "restore",
        Pipeline = "pipeline",
        Review = "review",
        /// The admin CLI (sample data).
        Cli = "cli",
    }
);

impl RevisionSource {
    /// Whether a revision from this source is a person changing the text:
    /// not the pipeline writing it, an approval publishing the reviewed
    /// version, or the scheduler publishing it.
    pub fn by_people(self) -> bool {
        match self {
            Self::Api | Self::Console | Self::Restore | Self::Review | Self::Cli => true,
            Self::Approval | Self::Scheduler | Self::Pipeline => false,
        }
    }
}

text_enum!(
    /// Where one topic of a `presswork eval` run stands (its report's
    /// `rows[].state`).
    EvalRowState, "state" {
        Pending = "pending",
        /// Started and not finished: an interrupted run resumes it.
        Running = "running",
        Done = "done",
        /// The generation failed; a resumed run tries it again from its last
        /// finished stage.
        Failed = "failed",
    }
);

text_enum!(
    /// What an audit event records (`audit_events.action`).
    AuditAction, "action" {
        LoginSucceeded = "auth.login_succeeded",
        LoginFailed = "auth.login_failed",
        LockedOut = "auth.locked_out",
        TwoFactorEnabled = "auth.2fa_enabled",
        TwoFactorDisabled = "auth.2fa_disabled",
        BackupCodesRegenerated = "auth.backup_codes_regenerated",
        PasswordChanged = "auth.password_changed",
        SessionRevoked = "auth.session_revoked",
        UserCreated = "user.created",
        UserUpdated = "user.updated",
        UserDeactivated = "user.deactivated",
        UserDeleted = "user.deleted",
        RoleGranted = "role.granted",
        RoleRevoked = "role.revoked",
        ApiKeyCreated = "api_key.created",
        ApiKeyRevoked = "api_key.revoked",
        SettingChanged = "setting.changed",
        SettingDeleted = "setting.deleted",
        WebhookCreated = "webhook.created",
        WebhookUpdated = "webhook.updated",
        WebhookDeleted = "webhook.deleted",
        ContentApproved = "content.approved",
        ContentRejected = "content.rejected",
        ContentRegenerated = "content.regenerated",
        PostPublished = "post.published",
        PostUnpublished = "post.unpublished",
        PostArchived = "post.archived",
        PostDeleted = "post.deleted",
        PostRestored = "post.restored",
        LegacyCleanup = "legacy.cleanup",
    }
);

text_enum!(
    /// Who acted, as an audit event records it (`audit_events.actor_kind`).
    ActorKind, "actor_kind" {
        User = "user",
        ApiKey = "api_key",
        System = "system",
        /// Nobody signed in: a failed sign-in (the name tried is the label).
        Anonymous = "anonymous",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_errors() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in ContentStatus::ALL {
            assert_eq!(s.as_str().parse::<ContentStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(
            "awaiting_approval".parse::<ContentStatus>(),
            Ok(ContentStatus::AwaitingApproval)
        );
        let e = "done".parse::<TaskStatus>().unwrap_err();
        assert_eq!(e.field, "status");
        assert!(
            e.message
                .contains("pending, running, completed, failed, cancelled")
        );
        assert!("Pending".parse::<ApprovalStatus>().is_err());
        assert!(TaskStatus::Failed.is_finished() && !TaskStatus::Running.is_finished());
        assert!(ContentStatus::Running.is_generating());
        assert!(!ContentStatus::Failed.is_generating());
    }
}
