//! Runtime settings: typed values validated against their type, secrets
//! encrypted with AES-256-GCM and only ever shown masked. Provider keys,
//! default models and pipeline thresholds stored here override configuration
//! without a restart: later code reads them through [`SettingsStore::value`]
//! and [`SettingsStore::secret`].

use presswork_db::models::setting::{self, Setting, SettingWrite};
use presswork_db::{AsyncConnection, AsyncPgConnection, DbError, Pool};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;

use crate::AuthError;
use crate::crypto::SecretBox;

pub const TYPES: [&str; 5] = ["string", "number", "boolean", "json", "secret"];

#[derive(Debug, Clone)]
pub struct SettingInput {
    pub value: Value,
    pub data_type: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
}

/// A setting as shown to clients: secrets have no `value`, only `masked`.
#[derive(Debug, Clone)]
pub struct SettingView {
    pub key: String,
    pub value: Option<Value>,
    pub masked: Option<String>,
    pub data_type: String,
    pub category: String,
    pub is_secret: bool,
    pub description: String,
    pub updated_by: Option<Uuid>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// `sk-…abcd`: enough to recognise a key, never enough to use it.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    } else {
        "…".to_owned()
    }
}

fn db(e: presswork_db::QueryError) -> AuthError {
    AuthError::Db(DbError::Query(e))
}

/// Settings that the code reads have a shape; a value it could not use is
/// refused at write time rather than ignored at read time.
fn check_known(key: &str, value: &Value) -> Result<(), String> {
    let non_negative = |v: &Value| v.as_f64().is_some_and(|f| f.is_finite() && f >= 0.0);
    match key {
        "llm.monthly_budget_usd" if !non_negative(value) => {
            Err("must be a number of dollars, 0 or more".into())
        }
        "llm.prices" => {
            let ok = value.as_object().is_some_and(|models| {
                models.values().all(|p| {
                    p.as_object().is_some_and(|o| {
                        o.len() == 2
                            && o.get("input").is_some_and(non_negative)
                            && o.get("output").is_some_and(non_negative)
                    })
                })
            });
            if ok {
                Ok(())
            } else {
                Err(
                    r#"must map model names to {"input": $, "output": $} per million tokens"#
                        .into(),
                )
            }
        }
        presswork_domain::content::DUPLICATE_SIMILARITY_SETTING => {
            presswork_domain::content::parse_duplicate_similarity(value)
                .map(drop)
                .map_err(str::to_owned)
        }
        presswork_domain::grounding::SUPPORT_THRESHOLD_SETTING => {
            presswork_domain::grounding::parse_support_threshold(value)
                .map(drop)
                .map_err(str::to_owned)
        }
        presswork_domain::grounding::LINK_ALLOW_LIST_SETTING => {
            presswork_domain::grounding::parse_link_allow_list(value)
                .map(drop)
                .map_err(str::to_owned)
        }
        presswork_domain::revision::KEEP_SETTING => {
            presswork_domain::revision::keep_limit(Some(value))
                .map(drop)
                .map_err(str::to_owned)
        }
        _ => Ok(()),
    }
}

pub fn validate_key(key: &str) -> Result<(), AuthError> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key.as_bytes()[0].is_ascii_alphanumeric()
        && key.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(AuthError::validation(
            "key",
            "must be lower-case letters, digits, '_', '.' or '-' (at most 128)",
        ))
    }
}

#[derive(Clone)]
pub struct SettingsStore {
    pool: Pool,
    cipher: Option<SecretBox>,
}

impl SettingsStore {
    pub fn new(pool: Pool, cipher: Option<SecretBox>) -> Self {
        Self { pool, cipher }
    }

    fn view(&self, s: Setting) -> SettingView {
        let (value, masked) = if s.is_secret {
            let masked = s
                .encrypted_value
                .as_deref()
                .and_then(|sealed| self.cipher.as_ref()?.open(sealed).ok())
                .and_then(|plain| String::from_utf8(plain).ok())
                .map(|plain| mask(&plain))
                .unwrap_or_else(|| "…".to_owned());
            (None, Some(masked))
        } else {
            (
                s.value
                    .as_deref()
                    .and_then(|v| serde_json::from_str(v).ok()),
                None,
            )
        };
        SettingView {
            key: s.key,
            value,
            masked,
            data_type: s.data_type,
            category: s.category,
            is_secret: s.is_secret,
            description: s.description,
            updated_by: s.updated_by,
            updated_at: s.updated_at,
        }
    }

    async fn conn(&self) -> Result<presswork_db::PooledConnection, AuthError> {
        Ok(self.pool.get().await.map_err(DbError::from)?)
    }

    pub async fn list(
        &self,
        category: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<SettingView>, i64), AuthError> {
        let mut conn = self.conn().await?;
        let (rows, total) = setting::list(&mut conn, category, limit, offset)
            .await
            .map_err(db)?;
        Ok((rows.into_iter().map(|s| self.view(s)).collect(), total))
    }

    pub async fn get(&self, key: &str) -> Result<SettingView, AuthError> {
        let mut conn = self.conn().await?;
        let s = setting::find(&mut conn, key)
            .await
            .map_err(db)?
            .ok_or(AuthError::NotFound)?;
        Ok(self.view(s))
    }

    /// Validates and writes one setting on `conn`; errors name the key.
    async fn put_on(
        &self,
        conn: &mut AsyncPgConnection,
        key: &str,
        input: &SettingInput,
        user: Option<Uuid>,
    ) -> Result<Setting, AuthError> {
        validate_key(key)?;
        let existing = setting::find(conn, key).await.map_err(db)?;
        let data_type = match (&input.data_type, &existing) {
            (Some(t), _) => t.clone(),
            (None, Some(e)) => e.data_type.clone(),
            (None, None) => match &input.value {
                Value::String(_) => "string".into(),
                Value::Number(_) => "number".into(),
                Value::Bool(_) => "boolean".into(),
                _ => "json".into(),
            },
        };
        if !TYPES.contains(&data_type.as_str()) {
            return Err(AuthError::validation(
                key,
                format!("data_type must be one of {}", TYPES.join(", ")),
            ));
        }
        let type_ok = match data_type.as_str() {
            "string" | "secret" => input.value.is_string(),
            "number" => input.value.is_number(),
            "boolean" => input.value.is_boolean(),
            _ => !input.value.is_null(),
        };
        if !type_ok {
            return Err(AuthError::validation(
                key,
                format!("value does not match type {data_type}"),
            ));
        }
        if let Err(reason) = check_known(key, &input.value) {
            return Err(AuthError::validation(key, reason));
        }
        let category = input
            .category
            .clone()
            .or_else(|| existing.as_ref().map(|e| e.category.clone()))
            .unwrap_or_else(|| key.split('.').next().unwrap_or("general").to_owned());
        let category_ok = !category.is_empty()
            && category.len() <= 64
            && category.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if !category_ok {
            return Err(AuthError::validation(
                key,
                "category must be 1 to 64 lower-case letters, digits, '_', '.' or '-'",
            ));
        }
        let description = input
            .description
            .clone()
            .or_else(|| existing.as_ref().map(|e| e.description.clone()))
            .unwrap_or_default();
        let is_secret = data_type == "secret";
        let (text, sealed) = if is_secret {
            let plain = input.value.as_str().unwrap_or_default();
            if plain.is_empty() {
                return Err(AuthError::validation(key, "a secret must not be empty"));
            }
            let cipher = self.cipher.as_ref().ok_or_else(|| {
                AuthError::Unavailable(
                    "PRESSWORK_ENCRYPTION_KEY is not configured; secrets cannot be stored".into(),
                )
            })?;
            (
                None,
                Some(
                    cipher
                        .seal(plain.as_bytes())
                        .map_err(|e| AuthError::Internal(e.to_string()))?,
                ),
            )
        } else {
            (Some(input.value.to_string()), None)
        };
        setting::upsert(
            conn,
            &SettingWrite {
                key,
                value: text.as_deref(),
                data_type: &data_type,
                category: &category,
                is_secret,
                encrypted_value: sealed.as_deref(),
                description: &description,
                updated_by: user,
            },
        )
        .await
        .map_err(db)
    }

    pub async fn put(
        &self,
        key: &str,
        input: SettingInput,
        user: Option<Uuid>,
    ) -> Result<SettingView, AuthError> {
        let mut conn = self.conn().await?;
        let s = self.put_on(&mut conn, key, &input, user).await?;
        Ok(self.view(s))
    }

    /// All or nothing: the first invalid item rolls every write back.
    pub async fn put_many(
        &self,
        items: Vec<(String, SettingInput)>,
        user: Option<Uuid>,
    ) -> Result<Vec<SettingView>, AuthError> {
        let mut conn = self.conn().await?;
        let rows = conn
            .transaction::<_, AuthError, _>(async |conn| {
                let mut out = Vec::with_capacity(items.len());
                for (key, input) in &items {
                    out.push(self.put_on(conn, key, input, user).await?);
                }
                Ok(out)
            })
            .await?;
        Ok(rows.into_iter().map(|s| self.view(s)).collect())
    }

    pub async fn delete(&self, key: &str) -> Result<(), AuthError> {
        let mut conn = self.conn().await?;
        if setting::delete(&mut conn, key).await.map_err(db)? {
            Ok(())
        } else {
            Err(AuthError::NotFound)
        }
    }

    /// The current value of a non-secret setting, if set.
    pub async fn value(&self, key: &str) -> Result<Option<Value>, AuthError> {
        let mut conn = self.conn().await?;
        setting::value(&mut conn, key).await.map_err(db)
    }

    /// The decrypted value of a secret setting, if set.
    pub async fn secret(&self, key: &str) -> Result<Option<SecretString>, AuthError> {
        let mut conn = self.conn().await?;
        let Some(s) = setting::find(&mut conn, key)
            .await
            .map_err(db)?
            .filter(|s| s.is_secret)
        else {
            return Ok(None);
        };
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            AuthError::Unavailable("PRESSWORK_ENCRYPTION_KEY is not configured".into())
        })?;
        let plain = cipher
            .open(s.encrypted_value.as_deref().unwrap_or_default())
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        String::from_utf8(plain)
            .map(|p| Some(SecretString::from(p)))
            .map_err(|_| AuthError::Internal("secret setting is not UTF-8".into()))
    }

    /// A secret setting holding a service's API key: trimmed, `None` when
    /// unset, blank or unreadable (logged; the service is then left out).
    pub async fn api_key(&self, key: &str) -> Option<String> {
        match self.secret(key).await {
            Ok(v) => v
                .map(|s| secrecy::ExposeSecret::expose_secret(&s).trim().to_owned())
                .filter(|s| !s.is_empty()),
            Err(e) => {
                tracing::warn!(setting = key, error = %e, "could not read the setting");
                None
            }
        }
    }

    /// Start-up check: stored secrets must be readable with the configured key.
    pub async fn check_key(&self) -> Result<(), String> {
        let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
        let Some(s) = setting::any_secret(&mut conn)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let Some(cipher) = &self.cipher else {
            return Err(format!(
                "secret settings exist (e.g. '{}') but PRESSWORK_ENCRYPTION_KEY is not set",
                s.key
            ));
        };
        cipher
            .open(s.encrypted_value.as_deref().unwrap_or_default())
            .map(|_| ())
            .map_err(|_| {
                format!(
                    "PRESSWORK_ENCRYPTION_KEY does not decrypt the stored secret '{}'; wrong key?",
                    s.key
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking() {
        assert_eq!(mask("sk-abcdefghijklmnop1234"), "sk-…1234");
        assert_eq!(mask("short"), "…");
    }

    #[test]
    fn keys() {
        assert!(validate_key("llm.openai.api_key").is_ok());
        assert!(validate_key("Bad Key").is_err());
        assert!(validate_key("").is_err());
        assert!(validate_key(".hidden").is_err());
    }
}
