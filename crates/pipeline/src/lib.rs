//! Presswork's content pipeline: research → draft → self-critique (rubric
//! scores) → refine → SEO metadata → image, persisted stage by stage in a
//! content task that then awaits human approval.
//!
//! Written against the `presswork_llm` provider trait and the `presswork_db`
//! queries. It must not know any provider's wire format and must not serve
//! HTTP; the worker runs it and the API only creates, reads and approves.
//!
//! Present so far: the router's database ledger (spend, budget, price
//! overrides) and the router built from configuration with it. The stages
//! come with the content-pipeline issue.

pub mod ledger;

use std::sync::Arc;

use presswork_db::Pool;
use presswork_domain::config::LlmConfig;
use presswork_llm::LlmError;
use presswork_llm::router::Router;

/// The configured router, accounting to the database.
pub fn router(cfg: &LlmConfig, pool: Pool) -> Result<Arc<Router>, LlmError> {
    Ok(Arc::new(
        presswork_llm::setup::router(cfg)?.with_ledger(Arc::new(ledger::DbLedger::new(pool))),
    ))
}
