//! What the API and the console show of a content task's stages: each
//! stage's outcome and the calls it made (tokens, cost, latency), read from
//! `content_tasks.stages` as the pipeline writes it, in the order the
//! pipeline runs them.

use serde::Deserialize;
use serde_json::Value;

use crate::run::CallInfo;

/// One stage, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSummary {
    pub name: String,
    /// `done`, `skipped` or `failed` as stored; `passed` or `done` for a
    /// critique (which stores `passed` instead).
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

/// The fields every stage may carry; the rest stays in `detail`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredStage {
    status: Option<String>,
    passed: Option<bool>,
    call: Option<CallInfo>,
    calls: Vec<CallInfo>,
    latency_ms: Option<u64>,
}

/// Display order: as the pipeline runs them (critique 1, refine 1,
/// critique 2...), unknown names last.
fn rank(name: &str) -> (u32, u32) {
    let n = |p: &str| {
        name.strip_prefix(p)
            .and_then(|r| r.parse::<u32>().ok())
            .unwrap_or(0)
    };
    match name {
        "research" => (0, 0),
        "draft" => (1, 0),
        "human_revision" => (2, 0),
        _ if name.starts_with("critique_") => (3, n("critique_") * 2),
        _ if name.starts_with("refine_") => (3, (n("refine_") * 2).saturating_sub(1)),
        "seo" => (4, 0),
        "image" => (5, 0),
        _ => (6, 0),
    }
}

/// Every stage of `stages` (a JSON object keyed by stage name), in order.
pub fn summarise(stages: &Value) -> Vec<StageSummary> {
    let Some(map) = stages.as_object() else {
        return vec![];
    };
    let mut out: Vec<StageSummary> = map
        .iter()
        .map(|(name, v)| {
            let s: StoredStage = serde_json::from_value(v.clone()).unwrap_or_default();
            let calls: Vec<CallInfo> = match s.call {
                Some(c) => vec![c],
                None => s.calls,
            };
            let last = calls.last();
            let costs: Vec<f64> = calls.iter().filter_map(|c| c.cost_usd).collect();
            StageSummary {
                name: name.clone(),
                status: s.status.unwrap_or_else(|| {
                    if s.passed == Some(true) {
                        "passed"
                    } else {
                        "done"
                    }
                    .to_owned()
                }),
                provider: last.map(|c| c.provider.clone()),
                model: last.map(|c| c.model.clone()),
                input_tokens: calls.iter().map(|c| c.input_tokens).sum(),
                output_tokens: calls.iter().map(|c| c.output_tokens).sum(),
                cost_usd: (!costs.is_empty()).then(|| costs.iter().sum()),
                latency_ms: (!calls.is_empty())
                    .then(|| calls.iter().map(|c| c.latency_ms).sum())
                    .or(s.latency_ms),
                detail: v.clone(),
            }
        })
        .collect();
    out.sort_by_key(|s| rank(&s.name));
    out
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
        let stages = json!({
            "seo": {"status": "done", "call": call(Some(0.5))},
            "refine_1": {"status": "done", "call": call(None)},
            "critique_2": {"passed": true, "calls": [call(Some(0.25)), call(Some(0.25))]},
            "critique_1": {"passed": false, "calls": []},
            "research": {"status": "skipped", "reason": "no Serper API key"},
            "draft": {"status": "done", "call": call(Some(1.0))},
        });
        let s = summarise(&stages);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "research",
                "draft",
                "refine_1",
                "critique_1",
                "critique_2",
                "seo"
            ]
        );
        let c2 = &s[4];
        assert_eq!(
            (c2.status.as_str(), c2.input_tokens, c2.latency_ms),
            ("passed", 20, Some(14))
        );
        assert_eq!(c2.cost_usd, Some(0.5));
        assert_eq!(s[2].cost_usd, None, "no call reported a cost");
        assert_eq!(s[3].status, "done");
        assert_eq!(s[0].provider, None);
        assert!(summarise(&json!([])).is_empty());
    }
}
