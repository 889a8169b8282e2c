//! Process bootstrap shared by the binaries: layered configuration and tracing.
//!
//! Configuration layers, later wins: built-in defaults → optional TOML file
//! (`PRESSWORK_CONFIG`, else `presswork.toml` when present) → conventional env
//! names (`DATABASE_URL`, ...) → `PRESSWORK__SECTION__KEY`.

use std::collections::HashMap;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};

use crate::config::{AppConfig, ConfigError, LogFormat};

/// Built-in defaults, in the same TOML shape as `presswork.toml`.
const DEFAULTS: &str = r#"
[http]
address = "127.0.0.1:8000"
body_limit_bytes = 1048576
cors_allowed_origins = []
cors_allowed_headers = ["accept", "accept-language", "authorization", "cache-control", "content-language", "content-type", "if-match", "if-modified-since", "if-none-match", "if-unmodified-since", "pragma", "x-api-key", "x-request-id", "x-requested-with"]
trusted_proxies = []
shutdown_timeout_s = 30
workers = 0
public_cache_ttl_ms = 2000
public_cache_entries = 10000
public_cache_bytes = 16777216
rate_limit_anonymous_per_min = 1200
rate_limit_principal_per_min = 6000
rate_limit_global_per_min = 0
rate_limit_flush_ms = 500

[database]
url = "postgres://postgres@127.0.0.1:5432/presswork"
pool_size = 16
acquire_timeout_ms = 3000
statement_timeout_ms = 30000
idle_in_transaction_timeout_ms = 60000

[log]
format = "text"
filter = "info"

[auth]
allow_signup = false
github_authorize_url = "https://github.com/login/oauth/authorize"
github_token_url = "https://github.com/login/oauth/access_token"
github_api_url = "https://api.github.com"
lockout_threshold = 5
min_password_score = 3
lockout_minutes = 15
refresh_ttl_days = 30
login_attempts_per_ip = 30
login_window_s = 300

[llm]
chain = "ollama,anthropic,openai,gemini"
max_retries = 2
backoff_ms = 500
max_backoff_ms = 20000
breaker_threshold = 5
breaker_cooldown_s = 30
fail_on_auth_error = false
models_cache_s = 60
chat_context_tokens = 6000
max_concurrent_per_user = 2
prices = [
    { model = "gpt-4o", input = 2.5, output = 10.0 },
    { model = "gpt-4o-mini", input = 0.15, output = 0.6 },
    { model = "gpt-4.1", input = 2.0, output = 8.0 },
    { model = "gpt-4.1-mini", input = 0.4, output = 1.6 },
    { model = "claude-sonnet-4-5", input = 3.0, output = 15.0 },
    { model = "claude-haiku-4-5", input = 1.0, output = 5.0 },
    { model = "claude-opus-4-1", input = 15.0, output = 75.0 },
    { model = "gemini-2.5-pro", input = 1.25, output = 10.0 },
    { model = "gemini-2.5-flash", input = 0.3, output = 2.5 },
]
[llm.ollama]
enabled = true
base_url = "http://localhost:11434"
default_model = "llama3.2"
timeout_s = 120
[llm.openai]
enabled = true
default_model = "gpt-4o-mini"
timeout_s = 60
[llm.anthropic]
enabled = true
base_url = "https://api.anthropic.com"
default_model = "claude-sonnet-4-5"
timeout_s = 60
[llm.gemini]
enabled = true
base_url = "https://generativelanguage.googleapis.com"
default_model = "gemini-2.5-flash"
timeout_s = 60

[integrations]
serper_base_url = "https://google.serper.dev"
pexels_base_url = "https://api.pexels.com"
timeout_s = 20
research_allow_private_pages = false

[pipeline]
quality_threshold = 7.0
max_refinements = 2
support_threshold = 0.8
public_provenance = true

[worker]
concurrency = 4
poll_interval_ms = 1000
lease_s = 30
shutdown_grace_s = 30
retention_days = 7
webhooks_allow_private_targets = false
kind_concurrency = ""
metrics_address = "127.0.0.1:9464"
"#;

/// Conventional environment names and the config key each one sets.
pub const CONVENTIONAL_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("OLLAMA_HOST", "llm.ollama.base_url"),
    ("OPENAI_API_KEY", "llm.openai.api_key"),
    ("OPENAI_BASE_URL", "llm.openai.base_url"),
    ("OPENAI_MODEL", "llm.openai.default_model"),
    ("OLLAMA_MODEL", "llm.ollama.default_model"),
    ("ANTHROPIC_API_KEY", "llm.anthropic.api_key"),
    ("ANTHROPIC_BASE_URL", "llm.anthropic.base_url"),
    ("GEMINI_API_KEY", "llm.gemini.api_key"),
    ("GEMINI_BASE_URL", "llm.gemini.base_url"),
    ("LLM_CHAIN", "llm.chain"),
    ("SERPER_API_KEY", "integrations.serper_api_key"),
    ("PEXELS_API_KEY", "integrations.pexels_api_key"),
    ("SERPER_BASE_URL", "integrations.serper_base_url"),
    ("PEXELS_BASE_URL", "integrations.pexels_base_url"),
    ("GITHUB_CLIENT_ID", "auth.github_client_id"),
    ("GITHUB_CLIENT_SECRET", "auth.github_client_secret"),
    ("JWT_SECRET", "auth.jwt_secret"),
    ("PRESSWORK_ENCRYPTION_KEY", "auth.encryption_key"),
    ("LOG_FORMAT", "log.format"),
];

/// Loads the configuration from the process environment.
/// `application_name` is this binary's default name in `pg_stat_activity`.
pub fn load(application_name: &str) -> Result<AppConfig, ConfigError> {
    let env: HashMap<String, String> = std::env::vars().collect();
    load_from(&env, application_name)
}

/// Same as [`load`], from an explicit environment (tests pass their own).
pub fn load_from(
    env: &HashMap<String, String>,
    application_name: &str,
) -> Result<AppConfig, ConfigError> {
    let mut builder = Config::builder()
        .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
        .set_default("database.application_name", application_name)
        .map_err(|e| ConfigError::new("defaults", e.to_string()))?;

    match env.get("PRESSWORK_CONFIG") {
        Some(path) => {
            if !Path::new(path).is_file() {
                return Err(ConfigError::new(
                    "PRESSWORK_CONFIG",
                    format!("no file at '{path}'"),
                ));
            }
            builder = builder.add_source(File::new(path, FileFormat::Toml));
        }
        None => {
            builder =
                builder.add_source(File::new("presswork.toml", FileFormat::Toml).required(false))
        }
    }

    // Conventional names apply unless the PRESSWORK__ spelling of the same key is set.
    for (name, key) in CONVENTIONAL_ENV {
        let Some(value) = env.get(*name).filter(|v| !v.is_empty()) else {
            continue;
        };
        if env.contains_key(&presswork_env_name(key)) {
            continue;
        }
        builder = builder
            .set_override(*key, value.as_str())
            .map_err(|e| ConfigError::new(*name, e.to_string()))?;
    }
    if let Some(port) = env
        .get("PORT")
        .filter(|_| !env.contains_key("PRESSWORK__HTTP__ADDRESS"))
    {
        let port: u16 = port
            .parse()
            .map_err(|_| ConfigError::new("PORT", format!("'{port}' is not a port number")))?;
        // PORT is the platform convention for "listen here on every interface".
        builder = builder
            .set_override("http.address", format!("0.0.0.0:{port}"))
            .map_err(|e| ConfigError::new("PORT", e.to_string()))?;
    }

    let presswork_env: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("PRESSWORK__"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        Environment::with_prefix("PRESSWORK")
            .prefix_separator("__")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("http.cors_allowed_origins")
            .with_list_parse_key("http.cors_allowed_headers")
            .with_list_parse_key("http.trusted_proxies")
            .try_parsing(true)
            .source(Some(presswork_env)),
    );

    let config: AppConfig = builder
        .build()
        .and_then(Config::try_deserialize)
        .map_err(|e| ConfigError::new(describe_key(&e), e.to_string()))?;
    config.validate()?;
    Ok(config)
}

fn presswork_env_name(key: &str) -> String {
    format!("PRESSWORK__{}", key.replace('.', "__").to_uppercase())
}

/// Turns a config error's key (if it names one) into the env variable to fix.
fn describe_key(err: &config::ConfigError) -> String {
    let text = err.to_string();
    // config reports e.g. "invalid type: ... for key `http.workers`".
    match text.split('`').nth(1) {
        Some(key) => {
            let conventional = CONVENTIONAL_ENV
                .iter()
                .find(|(_, k)| *k == key)
                .map(|(n, _)| *n);
            match conventional {
                Some(name) => format!("{} (or {name})", presswork_env_name(key)),
                None => presswork_env_name(key),
            }
        }
        None => "configuration".to_owned(),
    }
}

/// Installs the global tracing subscriber. `RUST_LOG` overrides the configured
/// filter; `format` picks human text or one JSON object per line.
pub fn init_telemetry(format: LogFormat, filter: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    // try_init: a second call (tests) keeps the first subscriber instead of panicking.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The API's pools never hold more than `pool_size`, except one
    /// connection per worker when there are more workers than half of it;
    /// every worker has one at least, and the process half.
    #[test]
    fn the_api_shares_its_pool_out_within_pool_size() {
        for size in 1..=40usize {
            for workers in 1..=8usize {
                let c = load_from(
                    &env(&[
                        ("PRESSWORK__DATABASE__POOL_SIZE", &size.to_string()),
                        ("PRESSWORK__HTTP__WORKERS", &workers.to_string()),
                    ]),
                    "t",
                )
                .unwrap();
                let s = c.api_pool_shares();
                let total = s.process + workers * s.per_worker;
                assert!(s.per_worker >= 1 && s.process == size.div_ceil(2));
                assert!(
                    total <= size.max(s.process + workers),
                    "{size} among {workers}: {s:?}"
                );
                // Nothing is left unused that a worker could have had.
                assert!(total + workers > size, "{size} among {workers}: {s:?}");
            }
        }
        let c = load_from(&env(&[("PRESSWORK__HTTP__WORKERS", "2")]), "t").unwrap();
        assert_eq!(
            c.api_pool_shares(),
            crate::config::PoolShares {
                process: 8,
                per_worker: 4
            }
        );
    }

    #[test]
    fn a_configuration_held_to_one_provider_routes_nothing_elsewhere() {
        let c = load_from(
            &env(&[(
                "PRESSWORK__LLM__STAGES__DRAFT",
                "anthropic:claude-haiku-4-5",
            )]),
            "t",
        )
        .unwrap();
        let held = c.llm.held_to("openai:gpt-4.1").unwrap();
        assert_eq!(held.chain().unwrap(), ["openai"]);
        assert!(held.stages.is_empty());
        assert_eq!(held.openai.default_model, "gpt-4.1");
        assert_eq!(held.ollama.default_model, c.llm.ollama.default_model);
        let held = c.llm.held_to("gemini").unwrap();
        assert_eq!(held.gemini.default_model, c.llm.gemini.default_model);
        assert!(c.llm.held_to("mistral").is_err());
        assert!(c.llm.held_to("").is_err());
        assert!(c.llm.held_to("openai,gemini").is_err());
    }

    #[test]
    fn defaults_are_valid() {
        let c = load_from(&env(&[]), "presswork-test").unwrap();
        assert_eq!(c.http.address, "127.0.0.1:8000");
        assert_eq!(c.database.application_name, "presswork-test");
        assert!(!c.auth.allow_signup);
        assert_eq!(c.log.format, LogFormat::Text);
    }

    #[test]
    fn conventional_names_apply_and_presswork_names_win() {
        let c = load_from(
            &env(&[
                ("DATABASE_URL", "postgres://a@h/db1"),
                ("OPENAI_API_KEY", "sk-test"),
                ("LOG_FORMAT", "json"),
            ]),
            "t",
        )
        .unwrap();
        assert_eq!(c.database.url.expose_secret(), "postgres://a@h/db1");
        assert_eq!(c.llm.openai.api_key.unwrap().expose_secret(), "sk-test");
        assert_eq!(c.log.format, LogFormat::Json);

        let c = load_from(
            &env(&[
                ("DATABASE_URL", "postgres://a@h/db1"),
                ("PRESSWORK__DATABASE__URL", "postgres://b@h/db2"),
            ]),
            "t",
        )
        .unwrap();
        assert_eq!(c.database.url.expose_secret(), "postgres://b@h/db2");
    }

    #[test]
    fn port_and_address() {
        let c = load_from(&env(&[("PORT", "9000")]), "t").unwrap();
        assert_eq!(c.http.address, "0.0.0.0:9000");
        let c = load_from(
            &env(&[
                ("PORT", "9000"),
                ("PRESSWORK__HTTP__ADDRESS", "127.0.0.1:7000"),
            ]),
            "t",
        )
        .unwrap();
        assert_eq!(c.http.address, "127.0.0.1:7000");
        let err = load_from(&env(&[("PORT", "ninety")]), "t").unwrap_err();
        assert_eq!(err.variable, "PORT");
    }

    #[test]
    fn errors_name_the_variable() {
        let err = load_from(&env(&[("PRESSWORK__HTTP__ADDRESS", "nowhere")]), "t").unwrap_err();
        assert!(err.variable.contains("PRESSWORK__HTTP__ADDRESS"), "{err}");
        let err = load_from(&env(&[("PRESSWORK__HTTP__WORKERS", "many")]), "t").unwrap_err();
        assert!(err.variable.contains("PRESSWORK__HTTP__WORKERS"), "{err}");
        let err = load_from(&env(&[("DATABASE_URL", "mysql://x")]), "t").unwrap_err();
        assert!(err.variable.contains("DATABASE_URL"), "{err}");
        let err = load_from(&env(&[("JWT_SECRET", "short")]), "t").unwrap_err();
        assert_eq!(err.variable, "JWT_SECRET");
        let err = load_from(&env(&[("PRESSWORK_CONFIG", "/nonexistent.toml")]), "t").unwrap_err();
        assert_eq!(err.variable, "PRESSWORK_CONFIG");
    }

    #[test]
    fn worker_kind_limits() {
        let c = load_from(
            &env(&[(
                "PRESSWORK__WORKER__KIND_CONCURRENCY",
                "generate_content=1, deliver_webhook=8",
            )]),
            "t",
        )
        .unwrap();
        let limits = c.worker.kind_limits().unwrap();
        assert_eq!(limits.get("generate_content"), Some(&1));
        assert_eq!(limits.get("deliver_webhook"), Some(&8));
        let err =
            load_from(&env(&[("PRESSWORK__WORKER__KIND_CONCURRENCY", "x=0")]), "t").unwrap_err();
        assert_eq!(err.variable, "PRESSWORK__WORKER__KIND_CONCURRENCY");
    }

    #[test]
    fn cors_list_from_env() {
        let c = load_from(
            &env(&[(
                "PRESSWORK__HTTP__CORS_ALLOWED_ORIGINS",
                "https://a.example,https://b.example",
            )]),
            "t",
        )
        .unwrap();
        assert_eq!(
            c.http.cors_allowed_origins,
            vec!["https://a.example", "https://b.example"]
        );
        assert!(
            load_from(
                &env(&[("PRESSWORK__HTTP__CORS_ALLOWED_ORIGINS", "a.example")]),
                "t"
            )
            .is_err()
        );
    }

    #[test]
    fn config_file_layer() {
        let dir = std::env::temp_dir().join(format!("pw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("presswork.toml");
        std::fs::write(
            &path,
            "[http]\naddress = \"127.0.0.1:8123\"\n[auth]\nallow_signup = true\n",
        )
        .unwrap();
        let c = load_from(&env(&[("PRESSWORK_CONFIG", path.to_str().unwrap())]), "t").unwrap();
        assert_eq!(c.http.address, "127.0.0.1:8123");
        assert!(c.auth.allow_signup);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every setting with a default and every conventional name is in the
    /// configuration reference of docs/DEPLOYMENT.md.
    #[test]
    fn the_deployment_guide_documents_every_setting() {
        fn walk(prefix: &str, v: &config::Value, out: &mut Vec<String>) {
            match v.clone().into_table() {
                Ok(t) => {
                    for (k, v) in t {
                        let key = if prefix.is_empty() {
                            k
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, &v, out);
                    }
                }
                Err(_) => out.push(prefix.to_owned()),
            }
        }
        let defaults = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .unwrap();
        let mut keys = Vec::new();
        walk("", &defaults.cache, &mut keys);
        assert!(keys.len() > 50, "{keys:?}");
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/DEPLOYMENT.md"
        ))
        .unwrap();
        for key in &keys {
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/DEPLOYMENT.md does not document `{key}`"
            );
        }
        for (env, key) in CONVENTIONAL_ENV {
            assert!(
                doc.contains(&format!("`{env}`")) && doc.contains(&format!("`{key}`")),
                "{env} / {key}"
            );
        }
    }
}
