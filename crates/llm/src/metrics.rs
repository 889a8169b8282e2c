//! Prometheus metrics of LLM calls (feature `prometheus`): calls by outcome,
//! tokens, cost and latency, per provider and model. Fed from the router's
//! call records (through the ledger), registered by each process.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::router::CallRecord;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    provider: String,
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: String,
    model: String,
}

#[derive(Clone)]
pub struct LlmMetrics {
    calls: Family<CallLabels, Counter>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    duration: Family<ModelLabels, Histogram>,
}

impl Default for LlmMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.05, 2.0, 12))
            }),
        }
    }
}

impl LlmMetrics {
    /// Adds the families to `registry` (cheap clones sharing the counts).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "presswork_llm_calls",
            "LLM provider attempts by outcome",
            self.calls.clone(),
        );
        registry.register(
            "presswork_llm_tokens",
            "Tokens sent (input) and received (output)",
            self.tokens.clone(),
        );
        registry.register(
            "presswork_llm_cost_usd",
            "Dollars spent on LLM calls",
            self.cost.clone(),
        );
        registry.register(
            "presswork_llm_call_duration_seconds",
            "Latency of LLM provider attempts",
            self.duration.clone(),
        );
    }

    pub fn observe(&self, r: &CallRecord) {
        let model = ModelLabels {
            provider: r.provider.clone(),
            model: r.model.clone(),
        };
        self.calls
            .get_or_create(&CallLabels {
                provider: r.provider.clone(),
                model: r.model.clone(),
                outcome: r.outcome.to_owned(),
            })
            .inc();
        for (direction, n) in [
            ("input", r.usage.input_tokens),
            ("output", r.usage.output_tokens),
        ] {
            self.tokens
                .get_or_create(&TokenLabels {
                    provider: r.provider.clone(),
                    model: r.model.clone(),
                    direction,
                })
                .inc_by(n);
        }
        if let Some(c) = r.cost_usd {
            self.cost.get_or_create(&model).inc_by(c);
        }
        #[expect(clippy::cast_precision_loss, reason = "milliseconds fit f64")]
        self.duration
            .get_or_create(&model)
            .observe(r.latency_ms as f64 / 1000.0);
    }
}
