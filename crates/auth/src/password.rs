//! argon2id password hashing (OWASP parameters: m = 19 MiB, t = 2, p = 1, the
//! crate's defaults) and the password policy. Hashing is CPU-bound: the async
//! wrappers run it on tokio's blocking pool, off the request threads.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use presswork_domain::DomainError;
use secrecy::{ExposeSecret, SecretString};

use crate::AuthError;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;

/// A small list of common passwords of policy length, lower-cased. Checked
/// after lower-casing the candidate.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "qwertyuiopas",
    "qwertyuiop123",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "iloveyou1234",
    "letmein12345",
    "welcome12345",
    "welcome123456",
    "adminadmin123",
    "administrator",
    "administrator1",
    "changeme1234",
    "trustno11234",
    "sunshine1234",
    "princess1234",
    "football1234",
    "baseball1234",
    "dragon123456",
    "monkey123456",
    "abc123456789",
    "aaaaaaaaaaaa",
    "111111111111",
    "000000000000",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "zaq12wsxcde3",
    "correcthorsebatterystaple",
    "passw0rd1234",
    "p@ssw0rd1234",
    "superman1234",
    "batman123456",
    "starwars1234",
    "whatever1234",
    "masterkey123",
];

/// Checks the policy; the error names the rule broken.
pub fn check_policy(password: &str, user_inputs: &[&str]) -> Result<(), DomainError> {
    let len = password.chars().count();
    if len < MIN_LENGTH {
        return Err(DomainError::new(
            "password",
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if len > MAX_LENGTH {
        return Err(DomainError::new(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let lower = password.to_lowercase();
    if COMMON.contains(&lower.as_str()) {
        return Err(DomainError::new(
            "password",
            "is too common; choose another",
        ));
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Err(DomainError::new(
            "password",
            "must not repeat a single character",
        ));
    }
    if user_inputs
        .iter()
        .any(|input| !input.is_empty() && lower == input.to_lowercase())
    {
        return Err(DomainError::new(
            "password",
            "must not be your email or username",
        ));
    }
    Ok(())
}

pub fn hash(password: &SecretString) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(format!("password hashing failed: {e}")))
}

/// False for a wrong password and for an unreadable hash.
pub fn verify(password: &SecretString, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a random password with the same parameters: verifying against it
/// when the user does not exist makes both answers take the same time.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$OJ3F1pSxpxmsQJMPzOcF8fMa8u6sLgpk4uYGOL7ruTk";

pub async fn hash_async(password: SecretString) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| AuthError::Internal(format!("hashing task failed: {e}")))?
}

pub async fn verify_async(password: SecretString, phc: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_the_rule() {
        assert!(
            check_policy("short", &[])
                .unwrap_err()
                .message
                .contains("at least 12")
        );
        assert!(
            check_policy("Password1234", &[])
                .unwrap_err()
                .message
                .contains("common")
        );
        assert!(
            check_policy("zzzzzzzzzzzzzz", &[])
                .unwrap_err()
                .message
                .contains("single character")
        );
        assert!(
            check_policy("alice@example.com", &["alice@example.com"])
                .unwrap_err()
                .message
                .contains("email or username")
        );
        assert!(check_policy("a sound passphrase 42", &["alice"]).is_ok());
    }

    #[test]
    fn hash_and_verify() {
        let pw = SecretString::from("a sound passphrase 42");
        let h = hash(&pw).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(&pw, &h));
        assert!(!verify(&SecretString::from("another passphrase"), &h));
        assert!(!verify(&pw, "not a hash"));
        // The dummy hash parses, so the unknown-user path does real work.
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify(&pw, DUMMY_HASH));
    }
}
