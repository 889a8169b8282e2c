//! API key format: `pw_` followed by 43 characters of URL-safe base64 (256
//! random bits). Only the SHA-256 hash and a short display prefix are stored.

use crate::AuthError;
use crate::crypto::{random_token, sha256_hex};

pub const PREFIX: &str = "pw_";
const DISPLAY_LEN: usize = PREFIX.len() + 8;

pub struct NewKey {
    /// Shown once, at creation.
    pub full: String,
    pub display_prefix: String,
    pub hash: String,
}

pub fn generate() -> Result<NewKey, AuthError> {
    let body = random_token::<32>().map_err(|e| AuthError::Internal(e.to_string()))?;
    let full = format!("{PREFIX}{body}");
    Ok(NewKey {
        display_prefix: full[..DISPLAY_LEN].to_owned(),
        hash: sha256_hex(&full),
        full,
    })
}

/// Whether a bearer credential is an API key rather than a JWT.
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(PREFIX)
        && credential.len() > DISPLAY_LEN
        && credential[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn hash(full: &str) -> String {
    sha256_hex(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_recognised_and_hashed() {
        let k = generate().unwrap();
        assert!(k.full.starts_with("pw_"));
        assert_eq!(k.full.len(), 3 + 43);
        assert!(looks_like_key(&k.full));
        assert_eq!(k.display_prefix.len(), 11);
        assert!(k.full.starts_with(&k.display_prefix));
        assert_eq!(hash(&k.full), k.hash);
        assert_ne!(generate().unwrap().full, k.full);
        assert!(!looks_like_key("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
        assert!(!looks_like_key("pw_short"));
        assert!(!looks_like_key("pw_has spaces in it!!"));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn generated_keys_are_recognised_and_others_mostly_not(s in ".{0,120}") {
            let k = generate().unwrap_or_else(|e| panic!("{e}"));
            prop_assert!(looks_like_key(&k.full));
            prop_assert_eq!(hash(&k.full), k.hash.clone());
            // Anything without the prefix is never taken for a key.
            if !s.starts_with(PREFIX) {
                prop_assert!(!looks_like_key(&s));
            }
        }
    }
}
