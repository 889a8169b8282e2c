//! Preview link tokens: `pv_` followed by 43 characters of URL-safe base64
//! (256 random bits). Only the SHA-256 hash is stored; a token is checked
//! by looking its hash up, so it cannot be forged or guessed.

use crate::AuthError;
use crate::crypto::{random_token, sha256_hex};

pub const PREFIX: &str = "pv_";

pub struct NewToken {
    /// Shown once, in the link made at creation.
    pub token: String,
    pub hash: String,
}

pub fn generate() -> Result<NewToken, AuthError> {
    let body = random_token::<32>().map_err(|e| AuthError::Internal(e.to_string()))?;
    let token = format!("{PREFIX}{body}");
    Ok(NewToken {
        hash: sha256_hex(&token),
        token,
    })
}

/// The hash to look a presented token up by.
pub fn hash(token: &str) -> String {
    sha256_hex(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_url_safe_and_hashed() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_ne!(a.token, b.token);
        assert!(a.token.starts_with(PREFIX) && a.token.len() == PREFIX.len() + 43);
        assert!(
            a.token[PREFIX.len()..]
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(hash(&a.token), a.hash);
        assert!(!a.hash.contains(&a.token[PREFIX.len()..]));
    }
}
