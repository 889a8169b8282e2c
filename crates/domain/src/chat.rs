//! Chat conversations: the id is the client's string (the original review
//! console sends `"default"`), scoped to its user.

use std::fmt;

use serde::Serialize;

use crate::DomainError;

/// 1 to 128 characters, none of them a control character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ConversationId(String);

impl ConversationId {
    pub const MAX_CHARS: usize = 128;
    /// [`Self::parse`]'s rule as a JSON Schema pattern: no control
    /// character (Unicode Cc, as `char::is_control`).
    pub const PATTERN: &'static str = r"^[^\x00-\x1f\x7f-\x9f]+$";

    pub fn parse(field: &str, raw: &str) -> Result<Self, DomainError> {
        let n = raw.chars().count();
        if n == 0 || n > Self::MAX_CHARS || raw.chars().any(char::is_control) {
            return Err(DomainError::new(
                field,
                format!(
                    "must be 1 to {} printable characters (got {n})",
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A fresh id for a conversation the client did not name.
    pub fn new_random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_strings_within_bounds() {
        assert_eq!(
            ConversationId::parse("id", "default").unwrap().as_str(),
            "default"
        );
        assert!(ConversationId::parse("id", "ünïcødé 会話").is_ok());
        assert!(ConversationId::parse("id", &"x".repeat(128)).is_ok());
        assert!(ConversationId::parse("id", &"x".repeat(129)).is_err());
        assert!(ConversationId::parse("id", "").is_err());
        assert_eq!(ConversationId::parse("id", "a\nb").unwrap_err().field, "id");
        assert_ne!(ConversationId::new_random(), ConversationId::new_random());
    }
}
