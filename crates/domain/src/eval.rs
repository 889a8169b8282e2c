//! The quality harness (`presswork eval`), its plain parts: the topics file,
//! what is measured of one generation, the totals, and the report as JSON
//! (also the state a run resumes from) and as Markdown.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;
use crate::content::{Brief, Scores, word_count};
use crate::generation::{Stage, Stages};
use crate::grounding::{GroundingState, Verdict, citation_numbers, without_sources_list};
pub use crate::status::EvalRowState as RowState;

/// The most topics one run takes.
pub const MAX_TOPICS: usize = 200;

/// One topic of the topics file (`[[topic]]` in TOML); what is left out
/// takes the same defaults as any request ([`Brief::spec`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalTopic {
    pub topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_keyword: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_audience: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tone: Option<String>,
}

impl EvalTopic {
    pub fn brief(&self) -> Brief {
        Brief {
            content_type: self.content_type.clone(),
            topic: self.topic.clone(),
            style: self.style.clone(),
            tone: self.tone.clone(),
            target_length: self.target_length,
            target_audience: self.target_audience.clone(),
            primary_keyword: self.primary_keyword.clone(),
            platform: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    #[serde(default)]
    topic: Vec<EvalTopic>,
}

/// Reads a topics file: TOML with one `[[topic]]` table per topic. Each is
/// checked as a request would be; a topic may appear once.
pub fn parse_topics(text: &str) -> Result<Vec<EvalTopic>, DomainError> {
    let file: TopicsFile =
        toml::from_str(text).map_err(|e| DomainError::new("topics", e.message().to_owned()))?;
    if file.topic.is_empty() {
        return Err(DomainError::new(
            "topics",
            "the file lists no topics (one [[topic]] table per topic, with `topic = \"...\"`)",
        ));
    }
    if file.topic.len() > MAX_TOPICS {
        return Err(DomainError::new(
            "topics",
            format!(
                "the file lists {} topics; at most {MAX_TOPICS}",
                file.topic.len()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, t) in file.topic.iter().enumerate() {
        let field = format!("topic[{}]", i + 1);
        t.brief().spec().map_err(|e| {
            // The request's name for the content type is the brief's here.
            let inner = if e.field == "task_type" {
                "content_type"
            } else {
                &e.field
            };
            DomainError::new(format!("{field}.{inner}"), e.message)
        })?;
        if !seen.insert(t.topic.trim().to_lowercase()) {
            return Err(DomainError::new(
                field,
                format!("\"{}\" is listed twice", t.topic.trim()),
            ));
        }
    }
    Ok(file.topic)
}

/// What is measured of one finished generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// The judge's scores of the first draft, and of the version kept.
    pub judge_before: Option<Scores>,
    pub judge_after: Option<Scores>,
    pub refinements: u32,
    /// Whether the version kept passed the quality threshold.
    pub quality_passed: bool,
    pub grounding: Option<GroundingState>,
    /// The support rate of the version kept, and of the first version
    /// checked: what refinement against the sources added.
    pub support_rate: Option<f64>,
    pub support_rate_before: Option<f64>,
    pub claims: usize,
    pub partly_supported: usize,
    pub unsupported: usize,
    /// `[n]` markers in the text (the sources list left out).
    pub citations: usize,
    /// Distinct sources cited, of `sources` found by research.
    pub sources_cited: usize,
    pub sources: usize,
    pub words: usize,
    pub target_words: u32,
    /// Stages stored (every call's result is one), and their names in the
    /// order they ran.
    pub stages: usize,
    pub stage_names: Vec<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    /// Calls without a known price count as 0.
    pub cost_usd: f64,
    /// The time the model calls took, summed.
    pub llm_latency_ms: u64,
    /// `provider:model` of every call.
    pub models: Vec<String>,
}

impl Measures {
    /// Measures a generation from its stages and the text it kept.
    pub fn of(stages: &Stages, content: &str, target_words: u32) -> Self {
        let first = stages.critiques.values().next();
        let last = stages.critiques.values().next_back();
        let grounding = stages.groundings.values().next_back();
        let count = |v: Verdict| {
            grounding.map_or(0, |g| g.claims.iter().filter(|c| c.verdict == v).count())
        };
        let body = without_sources_list(content);
        let cited = citation_numbers(body);
        let all = stages.iter();
        let usage = stages.usage();
        let models: BTreeSet<String> = all
            .iter()
            .flat_map(|s| s.calls())
            .map(|c| format!("{}:{}", c.provider, c.model))
            .collect();
        Self {
            judge_before: first.and_then(|c| c.scores.clone()),
            judge_after: last.and_then(|c| c.scores.clone()),
            refinements: u32::try_from(stages.refinements.len()).unwrap_or(u32::MAX),
            quality_passed: last.is_some_and(|c| c.passed),
            grounding: grounding.map(|g| g.state),
            support_rate: grounding.and_then(|g| g.support_rate),
            support_rate_before: stages
                .groundings
                .values()
                .next()
                .and_then(|g| g.support_rate),
            claims: grounding.map_or(0, |g| g.claims.len()),
            partly_supported: count(Verdict::Partly),
            unsupported: count(Verdict::Unsupported),
            citations: cited.len(),
            sources_cited: cited.iter().collect::<BTreeSet<_>>().len(),
            sources: stages.sources().len(),
            words: word_count(body),
            target_words,
            stages: all.len(),
            stage_names: all.iter().map(Stage::name).collect(),
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            total_tokens: usage.total_tokens,
            cost_usd: usage.cost_usd,
            llm_latency_ms: all
                .iter()
                .flat_map(|s| s.calls())
                .map(|c| c.latency_ms)
                .sum(),
            models: models.into_iter().collect(),
        }
    }

    pub fn overall_before(&self) -> Option<f64> {
        self.judge_before.as_ref().map(|s| s.overall)
    }

    pub fn overall_after(&self) -> Option<f64> {
        self.judge_after.as_ref().map(|s| s.overall)
    }
}

/// One topic of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub topic: EvalTopic,
    pub state: RowState,
    /// The content task generated (gone once a complete run has removed it,
    /// unless it was kept).
    pub content_task_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub measures: Option<Measures>,
    /// Wall-clock time spent on it, over every run that worked on it.
    pub wall_ms: u64,
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / f64::from(n))
}

/// The report's totals, over the topics done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub topics: usize,
    pub done: usize,
    pub failed: usize,
    pub mean_overall_before: Option<f64>,
    pub mean_overall_after: Option<f64>,
    /// The mean of (after − before) over topics judged both times: what
    /// refinement added.
    pub mean_gain: Option<f64>,
    pub mean_support_rate: Option<f64>,
    pub mean_support_rate_before: Option<f64>,
    pub refinements: u64,
    pub claims: u64,
    pub partly_supported: u64,
    pub unsupported: u64,
    pub citations: u64,
    pub words: u64,
    pub target_words: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
    pub cost_usd: f64,
    pub llm_latency_ms: u64,
    pub wall_ms: u64,
}

impl Totals {
    pub fn of(rows: &[Row]) -> Self {
        let done: Vec<&Measures> = rows
            .iter()
            .filter(|r| r.state == RowState::Done)
            .filter_map(|r| r.measures.as_ref())
            .collect();
        let sum = |f: fn(&Measures) -> u64| done.iter().map(|m| f(m)).sum::<u64>();
        Self {
            topics: rows.len(),
            done: done.len(),
            failed: rows.iter().filter(|r| r.state == RowState::Failed).count(),
            mean_overall_before: mean(done.iter().filter_map(|m| m.overall_before())),
            mean_overall_after: mean(done.iter().filter_map(|m| m.overall_after())),
            mean_gain: mean(
                done.iter()
                    .filter_map(|m| Some(m.overall_after()? - m.overall_before()?)),
            ),
            mean_support_rate: mean(done.iter().filter_map(|m| m.support_rate)),
            mean_support_rate_before: mean(done.iter().filter_map(|m| m.support_rate_before)),
            refinements: sum(|m| u64::from(m.refinements)),
            claims: sum(|m| m.claims as u64),
            partly_supported: sum(|m| m.partly_supported as u64),
            unsupported: sum(|m| m.unsupported as u64),
            citations: sum(|m| m.citations as u64),
            words: sum(|m| m.words as u64),
            target_words: sum(|m| u64::from(m.target_words)),
            input_tokens: sum(|m| m.input_tokens),
            output_tokens: sum(|m| m.output_tokens),
            total_tokens: sum(|m| m.total_tokens),
            // Folded from +0.0: an empty f64 sum is -0.0, printed "-0.0000".
            cost_usd: done.iter().fold(0.0, |sum, m| sum + m.cost_usd),
            llm_latency_ms: sum(|m| m.llm_latency_ms),
            wall_ms: rows.iter().map(|r| r.wall_ms).sum(),
        }
    }
}

/// A run of the harness: what it ran on and a row per topic (the totals
/// are derived from the rows, and written beside them). Written after every
/// topic, so an interrupted run resumes from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    /// The topics file, as named on the command line.
    pub topics_file: String,
    /// `--provider`, when the run was held to one provider.
    pub provider: Option<String>,
    pub prompt_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub rows: Vec<Row>,
}

/// The report as written: its fields and its totals.
#[derive(Serialize)]
struct Written<'a> {
    #[serde(flatten)]
    report: &'a Report,
    totals: Totals,
}

impl Report {
    pub const VERSION: u32 = 1;

    pub fn new(
        topics_file: String,
        provider: Option<String>,
        prompt_version: &str,
        topics: Vec<EvalTopic>,
        now: DateTime<Utc>,
    ) -> Self {
        let rows: Vec<Row> = topics
            .into_iter()
            .map(|topic| Row {
                topic,
                state: RowState::Pending,
                content_task_id: None,
                error: None,
                measures: None,
                wall_ms: 0,
            })
            .collect();
        Self {
            version: Self::VERSION,
            topics_file,
            provider,
            prompt_version: prompt_version.to_owned(),
            started_at: now,
            finished_at: None,
            rows,
        }
    }

    /// Whether a run of `topics` with `provider` may resume this report:
    /// the same topics in the same order, the same provider.
    pub fn resumable_by(&self, topics: &[EvalTopic], provider: Option<&str>) -> Result<(), String> {
        if self.version != Self::VERSION {
            return Err(format!(
                "it was written by another version of the harness ({})",
                self.version
            ));
        }
        let same = self.rows.len() == topics.len()
            && self.rows.iter().zip(topics).all(|(r, t)| &r.topic == t);
        if !same {
            return Err("it was run on other topics".to_owned());
        }
        if self.provider.as_deref() != provider {
            return Err(format!(
                "it was run with provider {}",
                self.provider.as_deref().unwrap_or("(any configured)")
            ));
        }
        Ok(())
    }

    /// Every topic done.
    pub fn complete(&self) -> bool {
        self.rows.iter().all(|r| r.state == RowState::Done)
    }

    pub fn totals(&self) -> Totals {
        Totals::of(&self.rows)
    }

    /// The report and its totals, as JSON.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(&Written {
            report: self,
            totals: self.totals(),
        })
    }

    /// The report as a Markdown document: a table with a row per topic,
    /// then the totals.
    pub fn markdown(&self) -> String {
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
        };
        let pct = |v: Option<f64>| {
            v.map_or_else(
                || "–".to_owned(),
                |v| format!("{:.0}%", (v * 100.0).round()),
            )
        };
        let mut out = String::new();
        let _ = writeln!(out, "# Presswork eval\n");
        let _ = writeln!(
            out,
            "Topics: `{}` · provider: {} · prompts: {} · started {}{}\n",
            self.topics_file,
            self.provider.as_deref().unwrap_or("as configured"),
            self.prompt_version,
            self.started_at.format("%Y-%m-%d %H:%M UTC"),
            self.finished_at
                .map(|f| format!(" · finished {}", f.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "| # | Topic | State | Judge before | Judge after | Refinements | Support (first → kept) | Claims (partly / unsupported) | Citations (sources cited / found) | Words / target | Stages | Tokens | Cost (USD) | LLM time (s) | Wall time (s) |"
        );
        let _ = writeln!(
            out,
            "|---|---|---|---:|---:|---:|---:|---|---|---|---:|---:|---:|---:|---:|"
        );
        for (i, r) in self.rows.iter().enumerate() {
            let topic = cell(&r.topic.topic);
            let state = match (&r.error, r.state) {
                (Some(e), RowState::Failed) => format!("failed: {}", cell(e)),
                (_, s) => s.as_str().to_owned(),
            };
            let wall = secs(r.wall_ms);
            match &r.measures {
                Some(m) => {
                    let _ = writeln!(
                        out,
                        "| {} | {topic} | {state} | {} | {} | {} | {} | {} ({} / {}) | {} ({} / {}) | {} / {} | {} | {} | {:.4} | {} | {wall} |",
                        i + 1,
                        opt(m.overall_before(), 1),
                        opt(m.overall_after(), 1),
                        m.refinements,
                        match m.grounding {
                            Some(GroundingState::Checked) | None
                                if m.support_rate_before != m.support_rate =>
                            {
                                format!("{} → {}", pct(m.support_rate_before), pct(m.support_rate))
                            }
                            Some(GroundingState::Checked) | None => pct(m.support_rate),
                            Some(other) => grounding_word(other).to_owned(),
                        },
                        m.claims,
                        m.partly_supported,
                        m.unsupported,
                        m.citations,
                        m.sources_cited,
                        m.sources,
                        m.words,
                        m.target_words,
                        m.stages,
                        m.total_tokens,
                        m.cost_usd,
                        secs(m.llm_latency_ms),
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "| {} | {topic} | {state} | – | – | – | – | – | – | – | – | – | – | – | {wall} |",
                        i + 1
                    );
                }
            }
        }
        let t = self.totals();
        let _ = writeln!(out, "\n## Totals\n");
        let _ = writeln!(
            out,
            "- Topics: {} ({} done, {} failed)",
            t.topics, t.done, t.failed
        );
        let _ = writeln!(
            out,
            "- Judge (mean overall): {} before refinement, {} after; mean gain {}",
            opt(t.mean_overall_before, 2),
            opt(t.mean_overall_after, 2),
            opt(t.mean_gain, 2)
        );
        let _ = writeln!(
            out,
            "- Support rate (mean): {} of the first versions checked, {} of those kept; claims {}, partly supported {}, unsupported {}",
            pct(t.mean_support_rate_before),
            pct(t.mean_support_rate),
            t.claims,
            t.partly_supported,
            t.unsupported
        );
        let _ = writeln!(
            out,
            "- Refinements: {}; citations: {}; words: {} of {} asked for",
            t.refinements, t.citations, t.words, t.target_words
        );
        let _ = writeln!(
            out,
            "- Tokens: {} ({} in, {} out); cost: ${:.4}",
            t.total_tokens, t.input_tokens, t.output_tokens, t.cost_usd
        );
        let _ = writeln!(
            out,
            "- Time: {} s in model calls, {} s wall clock",
            secs(t.llm_latency_ms),
            secs(t.wall_ms)
        );
        out
    }
}

fn grounding_word(state: GroundingState) -> &'static str {
    match state {
        GroundingState::Checked => "checked",
        GroundingState::Unsourced => "unsourced",
        GroundingState::NotApplicable => "n/a",
        GroundingState::Failed => "not checked",
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 1000.0)
}

/// Text safe in a Markdown table cell: one line, pipes escaped.
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::{CallInfo, Critique, GroundingStage, Research, Source, Stage, Written};
    use crate::grounding::CheckedClaim;

    fn call(tokens: (u64, u64), cost: f64, ms: u64) -> CallInfo {
        CallInfo {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            input_tokens: tokens.0,
            output_tokens: tokens.1,
            cost_usd: Some(cost),
            latency_ms: ms,
        }
    }

    fn scores(overall: f64) -> Scores {
        Scores {
            clarity: overall,
            accuracy: overall,
            completeness: overall,
            relevance: overall,
            seo_quality: overall,
            readability: overall,
            engagement: overall,
            overall,
            feedback: String::new(),
            repairs: Vec::new(),
        }
    }

    fn critique(overall: f64, passed: bool, c: CallInfo) -> Critique {
        Critique {
            scores: Some(scores(overall)),
            checks: Vec::new(),
            passed,
            raw: None,
            calls: vec![c],
        }
    }

    fn claim(verdict: Verdict) -> CheckedClaim {
        CheckedClaim {
            claim: "x".into(),
            citations: vec![1],
            verdict,
            evidence: String::new(),
            source: Some(1),
            note: None,
        }
    }

    fn source(n: u32) -> Source {
        Source {
            title: format!("S{n}"),
            link: format!("https://example.org/{n}"),
            snippet: String::new(),
            text: None,
            fetch_error: None,
        }
    }

    fn stages() -> Stages {
        let mut s = Stages::default();
        s.insert(Stage::Research(Research::Done {
            query: "q".into(),
            sources: vec![source(1), source(2), source(3)],
            latency_ms: None,
        }));
        s.insert(Stage::Draft(Written::by(
            "draft".into(),
            call((100, 400), 0.01, 1000),
        )));
        s.insert(Stage::Critique(
            0,
            critique(6.0, false, call((50, 50), 0.001, 200)),
        ));
        s.insert(Stage::Refine(
            1,
            Written::by("r".into(), call((100, 400), 0.01, 900)),
        ));
        s.insert(Stage::Critique(
            1,
            critique(8.0, true, call((50, 50), 0.001, 300)),
        ));
        let first = vec![claim(Verdict::Partly), claim(Verdict::Unsupported)];
        s.insert(Stage::Grounding(
            0,
            GroundingStage {
                state: GroundingState::Checked,
                reason: None,
                support_rate: crate::grounding::support_rate(&first),
                claims: first,
                threshold: 0.8,
                passed: false,
            },
        ));
        let claims = vec![
            claim(Verdict::Supported),
            claim(Verdict::Supported),
            claim(Verdict::Partly),
            claim(Verdict::Unsupported),
        ];
        s.insert(Stage::Grounding(
            1,
            GroundingStage {
                state: GroundingState::Checked,
                reason: None,
                support_rate: crate::grounding::support_rate(&claims),
                claims,
                threshold: 0.8,
                passed: false,
            },
        ));
        s
    }

    #[test]
    fn measures_read_the_first_and_last_critique_grounding_usage_and_text() {
        let text = "# T\n\nOne two [1]. Three [1, 2] four.\n\n## Sources\n\n1. [S1](https://example.org/1) [3]\n";
        let m = Measures::of(&stages(), text, 1200);
        assert_eq!(m.overall_before(), Some(6.0));
        assert_eq!(m.overall_after(), Some(8.0));
        assert!(m.quality_passed);
        assert_eq!(m.refinements, 1);
        assert_eq!(m.support_rate, Some(0.625));
        assert_eq!(m.support_rate_before, Some(0.25));
        assert_eq!((m.claims, m.partly_supported, m.unsupported), (4, 1, 1));
        // The sources list's own numbers are not citations.
        assert_eq!((m.citations, m.sources_cited, m.sources), (3, 2, 3));
        assert_eq!(
            m.words,
            word_count("# T\n\nOne two [1]. Three [1, 2] four.\n")
        );
        assert_eq!(
            (m.input_tokens, m.output_tokens, m.total_tokens),
            (300, 900, 1200)
        );
        assert!((m.cost_usd - 0.022).abs() < 1e-12);
        assert_eq!(m.llm_latency_ms, 2400);
        assert_eq!(m.stages, 7);
        assert_eq!(
            m.stage_names,
            [
                "research",
                "draft",
                "critique_0",
                "grounding_0",
                "refine_1",
                "critique_1",
                "grounding_1"
            ]
        );
        assert_eq!(m.models, ["openai:gpt-4o-mini"]);
    }

    fn row(state: RowState, m: Option<Measures>, wall: u64) -> Row {
        Row {
            topic: EvalTopic {
                topic: format!("T {wall}"),
                primary_keyword: None,
                target_length: None,
                content_type: None,
                target_audience: None,
                style: None,
                tone: None,
            },
            state,
            content_task_id: None,
            error: (state == RowState::Failed).then(|| "LLM | down\nhard".to_owned()),
            measures: m,
            wall_ms: wall,
        }
    }

    #[test]
    fn totals_count_done_topics_and_means_skip_what_is_missing() {
        let a = Measures::of(&stages(), "a [1]", 100);
        let mut b = a.clone();
        b.judge_before = Some(scores(7.0));
        b.judge_after = Some(scores(9.0));
        b.support_rate = None;
        let rows = vec![
            row(RowState::Done, Some(a.clone()), 1000),
            row(RowState::Done, Some(b), 3000),
            row(RowState::Failed, None, 500),
            row(RowState::Pending, None, 0),
        ];
        let t = Totals::of(&rows);
        assert_eq!((t.topics, t.done, t.failed), (4, 2, 1));
        assert_eq!(t.mean_overall_before, Some(6.5));
        assert_eq!(t.mean_overall_after, Some(8.5));
        assert_eq!(t.mean_gain, Some(2.0));
        assert_eq!(t.mean_support_rate, a.support_rate);
        assert_eq!(t.total_tokens, 2 * a.total_tokens);
        assert_eq!(t.wall_ms, 4500);
        assert_eq!(t.refinements, 2);
        let none = Totals::of(&rows[2..]);
        assert!(none.cost_usd.is_sign_positive() && none.cost_usd == 0.0);
    }

    #[test]
    fn the_markdown_has_a_row_per_topic_escaped_and_the_totals() {
        let topics = vec![
            EvalTopic {
                topic: "Pipes | and\nnewlines".into(),
                ..row(RowState::Pending, None, 0).topic
            },
            row(RowState::Pending, None, 1).topic,
        ];
        let mut r = Report::new("eval/topics.toml".into(), None, "v1", topics, Utc::now());
        r.rows[0].state = RowState::Done;
        r.rows[0].measures = Some(Measures::of(&stages(), "a [1] b", 1000));
        r.rows[1].state = RowState::Failed;
        r.rows[1].error = Some("all | failed".into());
        let md = r.markdown();
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        // Header plus one line per topic; every line has the same columns.
        assert_eq!(table.len(), 3, "{md}");
        let columns = |l: &str| l.replace("\\|", "").matches('|').count();
        assert!(
            table.iter().all(|l| columns(l) == columns(table[0])),
            "{md}"
        );
        assert!(table[1].contains("Pipes \\| and newlines"), "{md}");
        assert!(
            table[1].contains("| 6.0 | 8.0 | 1 | 25% → 63% | 4 (1 / 1) |"),
            "{md}"
        );
        assert!(table[2].contains("failed: all \\| failed"), "{md}");
        assert!(md.contains("- Topics: 2 (1 done, 1 failed)"), "{md}");
        assert!(
            md.contains("Support rate (mean): 25% of the first versions checked, 63% of those kept; claims 4"),
            "{md}"
        );
        assert!(md.contains("mean gain 2.00"), "{md}");
    }

    #[test]
    fn a_report_resumes_only_the_same_topics_and_provider() {
        let topics = vec![row(RowState::Pending, None, 0).topic];
        let r = Report::new(
            "f".into(),
            Some("openai".into()),
            "v",
            topics.clone(),
            Utc::now(),
        );
        assert!(r.resumable_by(&topics, Some("openai")).is_ok());
        assert!(r.resumable_by(&topics, None).is_err());
        let other = vec![row(RowState::Pending, None, 9).topic];
        assert!(r.resumable_by(&other, Some("openai")).is_err());
        let json = r.to_json().unwrap();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        let written: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(written["totals"]["topics"], 1, "{json}");
        assert!(!r.complete());
    }

    #[test]
    fn the_sample_topics_file_is_valid() {
        let topics = parse_topics(include_str!("../../../eval/topics.toml")).unwrap();
        assert_eq!(topics.len(), 6);
    }

    #[test]
    fn topics_files_are_checked_like_requests() {
        let ok = parse_topics(
            "[[topic]]\ntopic = \"HTTP caching\"\nprimary_keyword = \"http cache\"\ntarget_length = 800\n\n[[topic]]\ntopic = \"Rust errors\"\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].target_length, Some(800));
        for (bad, field) in [
            ("", "topics"),
            ("[[topic]]\ntopic = \"a\"\nlength = 3\n", "topics"),
            ("[[topic]]\ntopic = \"\"\n", "topic[1].topic"),
            (
                "[[topic]]\ntopic = \"Same\"\n[[topic]]\ntopic = \" same \"\n",
                "topic[2]",
            ),
            (
                "[[topic]]\ntopic = \"x y z\"\ntarget_length = 5\n",
                "topic[1].target_length",
            ),
            ("topic = 3", "topics"),
            (
                "[[topic]]\ntopic = \"abc\"\ncontent_type = \"essay\"\n",
                "topic[1].content_type",
            ),
        ] {
            let e = parse_topics(bad).unwrap_err();
            assert_eq!(e.field, field, "{bad:?}: {e:?}");
        }
    }
}
