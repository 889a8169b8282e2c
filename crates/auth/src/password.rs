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

/// Checks the policy: 12 to 1,024 characters, and a zxcvbn strength score
/// of at least `min_score` (0 to 4), the estimate counting the account's own
/// email and username as known words. A refusal names the rule and, for a
/// weak password, zxcvbn's warning and suggestions: what would make it
/// acceptable.
pub fn check_policy(
    password: &str,
    user_inputs: &[&str],
    min_score: u8,
) -> Result<(), DomainError> {
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
    if user_inputs
        .iter()
        .any(|input| !input.is_empty() && lower == input.to_lowercase())
    {
        return Err(DomainError::new(
            "password",
            "must not be your email or username",
        ));
    }
    // zxcvbn's matching is superlinear in the length; a long passphrase is
    // judged on its first 100 characters, which is strength enough.
    let judged: String = password.chars().take(100).collect();
    let estimate = zxcvbn::zxcvbn(&judged, user_inputs);
    let score = u8::from(estimate.score());
    if score < min_score {
        let mut advice: Vec<String> = Vec::new();
        if let Some(feedback) = estimate.feedback() {
            if let Some(w) = feedback.warning() {
                advice.push(w.to_string());
            }
            advice.extend(feedback.suggestions().iter().map(ToString::to_string));
        }
        if advice.is_empty() {
            advice.push("Add another word or two; uncommon words are better.".to_owned());
        }
        return Err(DomainError::new(
            "password",
            format!(
                "is too easy to guess (strength {score} of 4, {min_score} needed). {}",
                advice.join(" ")
            ),
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
        let refusal = |pw: &str, inputs: &[&str]| check_policy(pw, inputs, 3).unwrap_err().message;
        assert!(refusal("short", &[]).contains("at least 12"));
        assert!(refusal("alice@example.com", &["alice@example.com"]).contains("email or username"));
        // Dictionary words, keyboard walks, repeats and the account's own
        // name are weak however long; the refusal says what would help.
        for weak in [
            "Password1234",
            "zzzzzzzzzzzzzz",
            "qwertyuiop123",
            "letmein12345",
            "1q2w3e4r5t6y",
        ] {
            let m = refusal(weak, &[]);
            assert!(
                m.contains("too easy to guess") && m.contains("of 4"),
                "{weak}: {m}"
            );
            assert!(
                m.len() > "is too easy to guess (strength 0 of 4, 3 needed). ".len(),
                "{weak}: no advice in {m}"
            );
        }
        assert!(refusal("alicealice2024", &["alice"]).contains("too easy to guess"));
        // A passphrase of uncommon words passes; the minimum is a setting.
        assert!(check_policy("a sound passphrase 42", &["alice"], 3).is_ok());
        assert!(check_policy("violet tugboat marmalade", &[], 4).is_ok());
        assert!(check_policy("Password1234", &[], 0).is_ok());
        let long = "word ".repeat(300);
        assert!(check_policy(&long, &[], 3).is_err(), "long but repetitive");
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
