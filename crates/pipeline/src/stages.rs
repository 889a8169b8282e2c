//! What the API and the console show of a content task's stages: each
//! stage's outcome and the calls it made (tokens, cost, latency), in the
//! order the pipeline runs them.

use presswork_domain::generation::{Stage, Stages};
use serde_json::Value;

/// One stage, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSummary {
    pub name: String,
    /// `done`, `skipped` or `failed`; `passed` for a critique that passed.
    pub status: String,
    /// The last call's provider and model.
    pub provider: Option<String>,
    pub model: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `None` when no call reported a cost.
    pub cost_usd: Option<f64>,
    pub latency_ms: Option<u64>,
    /// The stage as stored.
    pub detail: Value,
}

/// Every stage, in run order; stages this code cannot read come last, as
/// stored, with the status they say.
pub fn summarise(stages: &Stages) -> Vec<StageSummary> {
    let mut out: Vec<StageSummary> = stages.iter().iter().map(summary).collect();
    out.extend(stages.unreadable.iter().map(|(name, v)| {
        StageSummary {
            name: name.clone(),
            status: v
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            provider: None,
            model: None,
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: None,
            latency_ms: None,
            detail: v.clone(),
        }
    }));
    out
}

fn summary(stage: &Stage) -> StageSummary {
    let calls = stage.calls();
    let last = calls.last();
    let costs: Vec<f64> = calls.iter().filter_map(|c| c.cost_usd).collect();
    let status = match stage {
        Stage::Critique(_, c) if c.passed => "passed".to_owned(),
        _ => stage.status().to_string(),
    };
    StageSummary {
        name: stage.name(),
        status,
        provider: last.map(|c| c.provider.clone()),
        model: last.map(|c| c.model.clone()),
        input_tokens: calls.iter().map(|c| c.input_tokens).sum(),
        output_tokens: calls.iter().map(|c| c.output_tokens).sum(),
        cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
        latency_ms: stage.latency_ms(),
        detail: stage.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stages_in_run_order_with_their_calls_summed() {
        let call = |cost: Option<f64>| {
            json!({"provider": "ollama", "model": "m", "input_tokens": 10,
                   "output_tokens": 5, "cost_usd": cost, "latency_ms": 7})
        };
        let critique = |passed: bool, calls: Vec<Value>| json!({"scores": null, "checks": [], "passed": passed, "raw": null, "calls": calls});
        let stages = Stages::read(&json!({
            "seo": {"status": "done", "call": call(Some(0.5)), "seo": {"title": "T",
                    "meta_description": "D", "keywords": [], "slug": "t", "excerpt": "E"}},
            "refine_1": {"status": "done", "content": "x", "call": call(None)},
            "critique_1": critique(true, vec![call(Some(0.25)), call(Some(0.25))]),
            "critique_0": critique(false, vec![]),
            "research": {"status": "skipped", "reason": "no Serper API key"},
            "draft": {"status": "done", "content": "x", "call": call(Some(1.0))},
            "later": {"status": "planned"},
        }));
        let s = summarise(&stages);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "research",
                "draft",
                "critique_0",
                "refine_1",
                "critique_1",
                "seo",
                "later"
            ]
        );
        let c1 = &s[4];
        assert_eq!(
            (c1.status.as_str(), c1.input_tokens, c1.latency_ms),
            ("passed", 20, Some(14))
        );
        assert_eq!(c1.cost_usd, Some(0.5));
        assert_eq!(s[3].cost_usd, None, "no call reported a cost");
        assert_eq!(s[2].status, "done");
        assert_eq!(s[0].status, "skipped");
        assert_eq!(s[0].provider, None);
        assert_eq!(s[6].status, "planned");
        assert_eq!(s[1].detail["content"], "x");
        assert!(summarise(&Stages::read(&json!([]))).is_empty());
    }
}
