//! What a call costs: a per-model price table (US dollars per million input
//! and output tokens). Local providers cost nothing.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::types::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// Dollars per million input tokens.
    pub input: f64,
    /// Dollars per million output tokens.
    pub output: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable(HashMap<String, Price>);

impl PriceTable {
    pub fn new(entries: impl IntoIterator<Item = (String, Price)>) -> Self {
        Self(entries.into_iter().collect())
    }

    /// This table with `overrides` laid over it.
    pub fn merged(&self, overrides: &PriceTable) -> PriceTable {
        let mut out = self.0.clone();
        out.extend(overrides.0.iter().map(|(k, v)| (k.clone(), *v)));
        Self(out)
    }

    /// The price of `model`: an exact entry, else the longest entry that is a
    /// prefix of it followed by `-` (so `gpt-4o-2024-08-06` is priced as
    /// `gpt-4o`, but `gpt-4o-mini` keeps its own entry).
    pub fn price(&self, model: &str) -> Option<Price> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        if let Some(p) = self.0.get(model) {
            return Some(*p);
        }
        self.0
            .iter()
            .filter(|(k, _)| {
                model
                    .strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('-') || rest.starts_with(':'))
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(_, p)| *p)
    }

    /// Cost in dollars, `None` when the model has no price.
    pub fn cost(&self, model: &str, usage: Usage) -> Option<f64> {
        #[expect(
            clippy::cast_precision_loss,
            reason = "token counts stay far below 2^52"
        )]
        self.price(model).map(|p| {
            (usage.input_tokens as f64 * p.input + usage.output_tokens as f64 * p.output) / 1e6
        })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> PriceTable {
        PriceTable::new([
            (
                "gpt-4o".to_owned(),
                Price {
                    input: 2.5,
                    output: 10.0,
                },
            ),
            (
                "gpt-4o-mini".to_owned(),
                Price {
                    input: 0.15,
                    output: 0.6,
                },
            ),
        ])
    }

    #[test]
    fn exact_then_longest_dash_prefix() {
        let t = table();
        assert_eq!(t.price("gpt-4o-mini").map(|p| p.input), Some(0.15));
        assert_eq!(
            t.price("gpt-4o-mini-2024-07-18").map(|p| p.input),
            Some(0.15)
        );
        assert_eq!(t.price("gpt-4o-2024-08-06").map(|p| p.input), Some(2.5));
        assert_eq!(t.price("gpt-4"), None);
        assert_eq!(t.price("gpt-4omega"), None);
    }

    #[test]
    fn cost_per_million() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 500_000,
        };
        let c = table().cost("gpt-4o", usage).unwrap_or_default();
        assert!((c - 7.5).abs() < 1e-9, "{c}");
    }

    #[test]
    fn overrides_win() {
        let o = PriceTable::new([(
            "gpt-4o".to_owned(),
            Price {
                input: 1.0,
                output: 1.0,
            },
        )]);
        assert_eq!(
            table().merged(&o).price("gpt-4o").map(|p| p.output),
            Some(1.0)
        );
        assert_eq!(
            table().merged(&o).price("gpt-4o-mini").map(|p| p.output),
            Some(0.6)
        );
    }
}
