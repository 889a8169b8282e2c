use std::sync::Arc;
use std::time::Instant;

use presswork_db::Pool;
use presswork_domain::config::AppConfig;

/// Shared by every handler through `web::Data`. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<AppConfig>,
    pub started_at: Instant,
}

impl AppState {
    pub fn new(pool: Pool, config: AppConfig) -> Self {
        Self {
            pool,
            config: Arc::new(config),
            started_at: Instant::now(),
        }
    }
}
