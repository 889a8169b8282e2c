//! Randomness, hashing of high-entropy tokens, and AES-256-GCM for secrets at rest.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("PRESSWORK_ENCRYPTION_KEY must be 32 bytes encoded in base64")]
    BadKey,
    #[error("ciphertext could not be decrypted (wrong key or corrupted)")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
    #[error("the system random generator failed")]
    Random,
}

/// Fills a buffer from the OS random generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| CryptoError::Random)?;
    Ok(buf)
}

/// `n` random bytes as URL-safe base64 without padding.
pub fn random_token<const N: usize>() -> Result<String, CryptoError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<N>()?))
}

/// SHA-256 hex digest. Fine for random tokens and keys with 128+ bits of
/// entropy (refresh tokens, API keys, backup codes); never for passwords.
pub fn sha256_hex(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
}

/// Constant-time equality for secrets.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Encrypts and decrypts secrets at rest (TOTP secrets, secret settings) with
/// AES-256-GCM. Stored form: nonce (12 bytes) || ciphertext+tag.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The cipher of the configured `PRESSWORK_ENCRYPTION_KEY`, if one is set;
    /// the error names the variable.
    pub fn from_config(key: Option<&secrecy::SecretString>) -> Result<Option<Self>, String> {
        key.map(|k| Self::from_base64_key(secrecy::ExposeSecret::expose_secret(k)))
            .transpose()
            .map_err(|e| format!("PRESSWORK_ENCRYPTION_KEY: {e}"))
    }

    pub fn from_base64_key(key_b64: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(key_b64.trim())
            .or_else(|_| URL_SAFE_NO_PAD.decode(key_b64.trim()))
            .map_err(|_| CryptoError::BadKey)?;
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        let key = Key::<Aes256Gcm>::try_from(bytes.as_slice()).map_err(|_| CryptoError::BadKey)?;
        Ok(Self {
            cipher: Aes256Gcm::new(&key),
        })
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let nonce = Nonce::try_from(nonce_bytes.as_slice()).map_err(|_| CryptoError::Encrypt)?;
        let ct = self
            .cipher
            .encrypt(&nonce, plaintext)
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Decrypt)?;
        self.cipher
            .decrypt(&nonce, ct)
            .map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> String {
        STANDARD.encode([7u8; 32])
    }

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let b = SecretBox::from_base64_key(&key()).unwrap();
        let sealed = b.seal(b"sk-secret").unwrap();
        assert!(!sealed.windows(9).any(|w| w == b"sk-secret"));
        assert_eq!(b.open(&sealed).unwrap(), b"sk-secret");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(b.open(&tampered).is_err());
        let other = SecretBox::from_base64_key(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open(&sealed).is_err());
        // Two seals of one plaintext differ (fresh nonce).
        assert_ne!(b.seal(b"x").unwrap(), b.seal(b"x").unwrap());
    }

    #[test]
    fn the_configured_key_is_optional_and_a_bad_one_is_named() {
        assert!(SecretBox::from_config(None).unwrap().is_none());
        let good = secrecy::SecretString::from(key());
        assert!(SecretBox::from_config(Some(&good)).unwrap().is_some());
        let bad = secrecy::SecretString::from("short");
        let e = SecretBox::from_config(Some(&bad)).unwrap_err();
        assert!(e.starts_with("PRESSWORK_ENCRYPTION_KEY: "), "{e}");
        assert!(!e.contains("short"), "the key itself is never said: {e}");
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(SecretBox::from_base64_key("not base64!").is_err());
        assert!(SecretBox::from_base64_key(&STANDARD.encode([1u8; 16])).is_err());
    }
}
