//! Who may see and manage content requests: a content task, the generation
//! tasks that work on it, their progress and their events. One rule, read by
//! the API's content and task routes, their event streams and the console.
//!
//! Reviewers (`content:approve`) see every request. Whoever may ask for
//! content but not review it (`content:create` without `content:approve`,
//! the author role) sees only what they asked for: another author's request
//! is answered as if it did not exist (404), so its topic does not leak.
//! Read-only observers (`content:read` without `content:create`, the viewer
//! role) watch the whole pipeline but change nothing.

use uuid::Uuid;

use crate::permissions as p;

/// A caller, as far as content requests are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestAccess {
    user: Uuid,
    may_review: bool,
    may_request: bool,
}

impl RequestAccess {
    /// `has` answers whether the caller holds a permission.
    pub fn new(user: Uuid, has: impl Fn(&str) -> bool) -> Self {
        Self {
            user,
            may_review: has(p::CONTENT_APPROVE),
            may_request: has(p::CONTENT_CREATE),
        }
    }

    /// `Some(user)`: only requests (and tasks) this user created; `None`:
    /// every one. Queries filter with it so counts and pages agree.
    pub fn owner_filter(&self) -> Option<Uuid> {
        (self.may_request && !self.may_review).then_some(self.user)
    }

    /// Whether a request created by `created_by` exists for this caller.
    pub fn sees(&self, created_by: Option<Uuid>) -> bool {
        self.owner_filter().is_none_or(|me| created_by == Some(me))
    }

    /// Whether the caller may cancel, delete or retry it: a reviewer, or
    /// the requester on their own request.
    pub fn may_manage(&self, created_by: Option<Uuid>) -> bool {
        self.may_review || (self.may_request && created_by == Some(self.user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(user: Uuid, perms: &[&str]) -> RequestAccess {
        RequestAccess::new(user, |x| perms.contains(&x))
    }

    #[test]
    fn the_matrix() {
        let me = Uuid::new_v4();
        let other = Uuid::new_v4();
        let reviewer = access(
            me,
            &[p::CONTENT_READ, p::CONTENT_CREATE, p::CONTENT_APPROVE],
        );
        let author = access(me, &[p::CONTENT_READ, p::CONTENT_CREATE]);
        let viewer = access(me, &[p::CONTENT_READ]);

        assert_eq!(reviewer.owner_filter(), None);
        assert!(reviewer.sees(Some(other)) && reviewer.sees(None));
        assert!(reviewer.may_manage(Some(other)));

        assert_eq!(author.owner_filter(), Some(me));
        assert!(author.sees(Some(me)));
        assert!(!author.sees(Some(other)));
        assert!(!author.sees(None), "a request whose creator was deleted");
        assert!(author.may_manage(Some(me)));
        assert!(!author.may_manage(Some(other)));

        assert_eq!(viewer.owner_filter(), None);
        assert!(viewer.sees(Some(other)));
        assert!(!viewer.may_manage(Some(me)) && !viewer.may_manage(Some(other)));
    }
}
