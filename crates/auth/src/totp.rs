//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, ±1 step tolerance) and
//! one-time backup codes. Replay protection is the caller's: `verify` returns
//! the matched step, which the caller accepts only if newer than the last.

use base64::Engine;
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Builder, Secret, Totp};

use crate::AuthError;
use crate::crypto::{random_bytes, sha256_hex};

pub const ISSUER: &str = "Presswork";
pub const BACKUP_CODE_COUNT: usize = 10;

fn totp(secret: &[u8], account: &str) -> Result<Totp, AuthError> {
    Builder::new()
        .with_secret(Secret::from(secret.to_vec()))
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AuthError::Internal(format!("totp: {e}")))
}

/// A fresh 160-bit secret (RFC 4226's recommended length).
pub fn new_secret() -> Result<Vec<u8>, AuthError> {
    Ok(random_bytes::<20>()
        .map_err(|e| AuthError::Internal(e.to_string()))?
        .to_vec())
}

pub struct Provisioning {
    pub secret_base32: String,
    pub otpauth_url: String,
    /// An SVG QR code of the otpauth URL, rendered locally.
    pub qr_svg: String,
}

pub fn provisioning(secret: &[u8], account: &str) -> Result<Provisioning, AuthError> {
    let t = totp(secret, account)?;
    let url = t
        .to_url()
        .map_err(|e| AuthError::Internal(format!("totp url: {e}")))?;
    let qr = QrCode::new(url.as_bytes()).map_err(|e| AuthError::Internal(format!("qr: {e}")))?;
    let svg = qr
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(Provisioning {
        secret_base32: t.secret().to_base32(),
        otpauth_url: url,
        qr_svg: svg,
    })
}

/// The matched time step if `code` is valid at `unix_time` (±1 step).
pub fn verify(secret: &[u8], code: &str, unix_time: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "check").ok()?.check(&code, unix_time)
}

/// The code for a time (tests and tooling).
pub fn code_at(secret: &[u8], unix_time: u64) -> Option<String> {
    Some(totp(secret, "check").ok()?.generate(unix_time).to_string())
}

/// Ten backup codes (`xxxx-xxxx-xxxx-xxxx`, 80 bits each) and their hashes.
pub fn new_backup_codes() -> Result<(Vec<String>, Vec<String>), AuthError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(BACKUP_CODE_COUNT);
    for _ in 0..BACKUP_CODE_COUNT {
        let bytes = random_bytes::<16>().map_err(|e| AuthError::Internal(e.to_string()))?;
        let chars: String = bytes
            .iter()
            .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
            .collect();
        codes.push(format!(
            "{}-{}-{}-{}",
            &chars[0..4],
            &chars[4..8],
            &chars[8..12],
            &chars[12..16]
        ));
    }
    let hashes = codes.iter().map(|c| hash_backup_code(c)).collect();
    Ok((codes, hashes))
}

/// Hash of a backup code, ignoring case, spaces and hyphens as typed.
pub fn hash_backup_code(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    sha256_hex(&normal)
}

/// Base64 of the SVG, for clients that want a data URL.
pub fn svg_data_url(svg: &str) -> String {
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 seed "12345678901234567890", 6-digit
    /// truncation of the published 8-digit values.
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, expected8) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(secret, time).unwrap(), expected8[2..], "t={time}");
            assert!(verify(secret, &expected8[2..], time).is_some());
        }
    }

    #[test]
    fn tolerance_is_one_step() {
        let secret = b"12345678901234567890";
        let t = 1_234_567_890;
        let code = code_at(secret, t).unwrap();
        assert!(verify(secret, &code, t + 30).is_some());
        assert!(verify(secret, &code, t - 30).is_some());
        assert!(verify(secret, &code, t + 90).is_none());
        assert!(verify(secret, "12345", t).is_none());
        assert!(verify(secret, "abcdef", t).is_none());
    }

    #[test]
    fn provisioning_has_url_and_svg() {
        let secret = new_secret().unwrap();
        let p = provisioning(&secret, "alice@example.com").unwrap();
        assert!(p.otpauth_url.starts_with("otpauth://totp/Presswork:alice"));
        assert!(
            p.otpauth_url
                .contains(&format!("secret={}", p.secret_base32))
        );
        assert!(p.qr_svg.contains("<svg"));
    }

    #[test]
    fn backup_codes_are_distinct_and_normalised() {
        let (codes, hashes) = new_backup_codes().unwrap();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        assert_eq!(
            hash_backup_code(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
    }
}
