//! Presswork's content pipeline: research → draft → self-critique (rubric
//! scores) → refine → SEO metadata → image, persisted stage by stage in a
//! content task that then awaits human approval.
//!
//! Written against the `presswork_llm` provider trait and the `presswork_db`
//! queries. It must not know any provider's wire format and must not serve
//! HTTP; the worker runs it and the API only creates, reads and approves.
//!
//! Modules: `run` (the stages, resumable), `prompts` (versioned templates),
//! `integrations` (Serper, Pexels), `approval` (publishing an approved draft)
//! and `ledger` (the router's spend and budget over the database).

pub mod approval;
pub mod chat;
pub mod eval;
pub mod integrations;
pub mod ledger;
pub mod outbound;
pub mod prompts;
pub mod requests;
pub mod run;
pub mod social;
pub mod stages;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use presswork_db::Pool;
use presswork_domain::config::LlmConfig;
use presswork_llm::LlmError;
use presswork_llm::router::Router;

/// The configured router, accounting to the database (and to `observer`,
/// for metrics).
pub fn router(
    cfg: &LlmConfig,
    pool: Pool,
    observer: Option<ledger::Observer>,
) -> Result<Arc<Router>, LlmError> {
    let mut ledger = ledger::DbLedger::new(pool);
    if let Some(o) = observer {
        ledger = ledger.with_observer(o);
    }
    Ok(Arc::new(
        presswork_llm::setup::router(cfg)?.with_ledger(Arc::new(ledger)),
    ))
}

/// The pipeline of this configuration: the router with its database ledger,
/// Serper and Pexels when their keys are set.
pub fn pipeline(
    cfg: &presswork_domain::config::AppConfig,
    pool: Pool,
    observer: Option<ledger::Observer>,
) -> Result<run::Pipeline, LlmError> {
    use secrecy::ExposeSecret;
    let i = &cfg.integrations;
    let timeout = std::time::Duration::from_secs(i.timeout_s.max(1));
    let service = |base: &str, key: &Option<secrecy::SecretString>| {
        key.as_ref()
            .map(|k| k.expose_secret().trim().to_owned())
            .filter(|k| !k.is_empty())
            .map(|api_key| integrations::ServiceConfig {
                base_url: base.to_owned(),
                api_key,
                timeout,
            })
    };
    Ok(run::Pipeline {
        router: router(&cfg.llm, pool.clone(), observer)?,
        pool,
        services: Arc::new(run::Services {
            serper: service(&i.serper_base_url, &i.serper_api_key).map(integrations::Serper::new),
            pexels: service(&i.pexels_base_url, &i.pexels_api_key).map(integrations::Pexels::new),
            pages: Some(outbound::PageFetcher {
                allow_private: i.research_allow_private_pages,
                timeout,
                ..Default::default()
            }),
        }),
        defaults: run::Thresholds {
            quality: cfg.pipeline.quality_threshold,
            max_refinements: cfg.pipeline.max_refinements,
            support: cfg.pipeline.support_threshold,
        },
    })
}

/// The Serper and Pexels keys kept as secret settings, for a deployment
/// whose configuration has none.
pub const SERPER_KEY_SETTING: &str = "integrations.serper_api_key";
pub const PEXELS_KEY_SETTING: &str = "integrations.pexels_api_key";

impl run::Pipeline {
    /// Whether Serper or Pexels lacks a configured key (a setting may hold it).
    pub fn lacks_service_keys(&self) -> bool {
        self.services.serper.is_none() || self.services.pexels.is_none()
    }

    /// This pipeline, with Serper and Pexels made from `serper` and `pexels`
    /// (keys found in the settings) where the configuration had no key.
    pub fn with_service_keys(
        &self,
        i: &presswork_domain::config::IntegrationsConfig,
        serper: Option<String>,
        pexels: Option<String>,
    ) -> run::Pipeline {
        let cfg = |base: &str, api_key: String| integrations::ServiceConfig {
            base_url: base.to_owned(),
            api_key,
            timeout: std::time::Duration::from_secs(i.timeout_s.max(1)),
        };
        let mut services = (*self.services).clone();
        if services.serper.is_none()
            && let Some(k) = serper
        {
            services.serper = Some(integrations::Serper::new(cfg(&i.serper_base_url, k)));
        }
        if services.pexels.is_none()
            && let Some(k) = pexels
        {
            services.pexels = Some(integrations::Pexels::new(cfg(&i.pexels_base_url, k)));
        }
        run::Pipeline {
            pool: self.pool.clone(),
            router: self.router.clone(),
            services: Arc::new(services),
            defaults: self.defaults,
        }
    }
}
