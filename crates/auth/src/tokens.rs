//! Access tokens: HS256 JWTs with a fixed algorithm on verification.
//! Refresh tokens: opaque random strings, stored only as SHA-256 hashes.

use chrono::Utc;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, errors::ErrorKind,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AuthError;
use crate::crypto::{random_token, sha256_hex};

pub const ISSUER: &str = "presswork";
pub const AUDIENCE: &str = "presswork-api";
pub const ACCESS_TTL_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    /// The server-side session; its revocation kills this token at once.
    pub sid: Uuid,
    pub roles: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub iss: String,
    pub aud: String,
}

#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(..)")
    }
}

impl TokenIssuer {
    /// The secret must be at least 32 bytes (validated with the configuration).
    pub fn new(secret: &SecretString) -> Result<Self, AuthError> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < 32 {
            return Err(AuthError::Internal(
                "JWT secret shorter than 32 bytes".into(),
            ));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        })
    }

    /// Returns the token and its lifetime in seconds.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        roles: Vec<String>,
    ) -> Result<(String, i64), AuthError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            roles,
            iat: now,
            exp: now + ACCESS_TTL_SECS,
            jti: Uuid::new_v4(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
        };
        self.sign(&claims).map(|t| (t, ACCESS_TTL_SECS))
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::Internal(format!("token signing failed: {e}")))
    }

    /// Verifies signature (HS256 only: `alg: none` and other algorithms fail),
    /// expiry, issuer and audience.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::TokenExpired,
                _ => AuthError::InvalidToken,
            })
    }
}

/// Audience of second-factor tickets: a ticket is not an access token and an
/// access token is not a ticket.
pub const TICKET_AUDIENCE: &str = "presswork-2fa";
pub const TICKET_TTL_SECS: i64 = 5 * 60;

/// Proof that a user passed the password step and still owes a TOTP code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketClaims {
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub iss: String,
    pub aud: String,
}

impl TokenIssuer {
    /// A short-lived ticket for the second login step (forms that must not
    /// carry the password from one step to the next).
    pub fn issue_ticket(&self, user_id: Uuid) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let claims = TicketClaims {
            sub: user_id,
            iat: now,
            exp: now + TICKET_TTL_SECS,
            jti: Uuid::new_v4(),
            iss: ISSUER.to_owned(),
            aud: TICKET_AUDIENCE.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::Internal(format!("token signing failed: {e}")))
    }

    /// The user a ticket was issued to; expired, tampered or access tokens fail.
    pub fn verify_ticket(&self, ticket: &str) -> Result<Uuid, AuthError> {
        let mut validation = self.validation.clone();
        validation.set_audience(&[TICKET_AUDIENCE]);
        decode::<TicketClaims>(ticket.trim(), &self.decoding, &validation)
            .map(|data| data.claims.sub)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::TokenExpired,
                _ => AuthError::InvalidToken,
            })
    }
}

/// A new refresh token and the hash to store.
pub fn new_refresh_token() -> Result<(String, String), AuthError> {
    let token = random_token::<32>().map_err(|e| AuthError::Internal(e.to_string()))?;
    let hash = sha256_hex(&token);
    Ok((token, hash))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn issuer(secret: &str) -> TokenIssuer {
        TokenIssuer::new(&SecretString::from(secret)).unwrap()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn round_trip() {
        let t = issuer(SECRET);
        let (user, sid) = (Uuid::new_v4(), Uuid::new_v4());
        let (token, ttl) = t.issue(user, sid, vec!["editor".into()]).unwrap();
        assert_eq!(ttl, 900);
        let claims = t.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.sid), (user, sid));
        assert_eq!(claims.roles, vec!["editor"]);
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn tickets_and_access_tokens_are_not_interchangeable() {
        let t = issuer(SECRET);
        let user = Uuid::new_v4();
        let ticket = t.issue_ticket(user).unwrap();
        assert_eq!(t.verify_ticket(&ticket).unwrap(), user);
        assert!(matches!(t.verify(&ticket), Err(AuthError::InvalidToken)));
        let (access, _) = t.issue(user, Uuid::new_v4(), vec![]).unwrap();
        assert!(matches!(
            t.verify_ticket(&access),
            Err(AuthError::InvalidToken)
        ));
        assert!(
            issuer("another-secret-another-secret-0123")
                .verify_ticket(&ticket)
                .is_err()
        );
    }

    #[test]
    fn tampering_is_rejected() {
        let t = issuer(SECRET);
        let (token, _) = t
            .issue(Uuid::new_v4(), Uuid::new_v4(), vec!["viewer".into()])
            .unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        // Changed payload, original signature.
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["roles"] = serde_json::json!(["admin"]);
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        assert!(matches!(t.verify(&forged), Err(AuthError::InvalidToken)));

        // alg: none, no signature.
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(matches!(t.verify(&unsigned), Err(AuthError::InvalidToken)));

        // Signed with another key.
        let other = issuer("ffffffffffffffffffffffffffffffff");
        let (foreign, _) = other.issue(Uuid::new_v4(), Uuid::new_v4(), vec![]).unwrap();
        assert!(matches!(t.verify(&foreign), Err(AuthError::InvalidToken)));

        // Garbage.
        assert!(matches!(
            t.verify("not.a.jwt"),
            Err(AuthError::InvalidToken)
        ));
    }

    #[test]
    fn expired_and_wrong_audience() {
        let t = issuer(SECRET);
        let now = Utc::now().timestamp();
        let mut claims = Claims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            roles: vec![],
            iat: now - 1000,
            exp: now - 10,
            jti: Uuid::new_v4(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        assert!(matches!(
            t.verify(&t.sign(&claims).unwrap()),
            Err(AuthError::TokenExpired)
        ));
        claims.exp = now + 100;
        claims.aud = "someone-else".into();
        assert!(matches!(
            t.verify(&t.sign(&claims).unwrap()),
            Err(AuthError::InvalidToken)
        ));
    }

    #[test]
    fn short_secret_refused() {
        assert!(TokenIssuer::new(&SecretString::from("short")).is_err());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, ha) = new_refresh_token().unwrap();
        let (b, _) = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(ha, sha256_hex(&a));
        assert!(a.len() >= 43);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use secrecy::SecretString;

    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(&SecretString::from(
            "property-test-secret-0123456789abcdef-xyz",
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    proptest! {
        #[test]
        fn arbitrary_strings_are_never_accepted(s in ".{0,300}") {
            prop_assert!(issuer().verify(&s).is_err());
        }

        #[test]
        fn any_change_to_a_valid_token_is_rejected(pos in 0usize..400, byte in 0u8..128) {
            let t = issuer();
            let (token, _) = t.issue(Uuid::new_v4(), Uuid::new_v4(), vec![]).unwrap_or_else(|e| panic!("{e}"));
            prop_assert!(t.verify(&token).is_ok());
            let mut bytes = token.clone().into_bytes();
            let i = pos % bytes.len();
            prop_assume!(bytes[i] != byte && byte.is_ascii_graphic());
            bytes[i] = byte;
            let changed = String::from_utf8(bytes).unwrap_or_default();
            // Base64url padding bits can make two encodings decode alike;
            // whatever verifies must then carry the very same claims.
            if let Ok(c) = t.verify(&changed) {
                prop_assert_eq!(c, t.verify(&token).unwrap_or_else(|e| panic!("{e}")));
            }
        }

        #[test]
        fn a_token_signed_with_another_secret_is_rejected(secret in "[a-zA-Z0-9]{32,64}") {
            let other = TokenIssuer::new(&SecretString::from(secret)).unwrap_or_else(|e| panic!("{e}"));
            let (token, _) = other.issue(Uuid::new_v4(), Uuid::new_v4(), vec![]).unwrap_or_else(|e| panic!("{e}"));
            prop_assert!(issuer().verify(&token).is_err());
        }
    }
}
