//! What the pipeline stores about a content task's generation, as types:
//! the stages (`content_tasks.stages`), the quality review (`qa_feedback`)
//! and the usage total (`usage`). The pipeline writes them, the API, the
//! console and the worker read them back through these types, so renaming a
//! field is a compile error wherever it is used.
//!
//! Each shape carries a `version`; rows written before it existed read as
//! version 1 (the shape they were written in). A stage this code cannot read
//! is kept as it was under [`Stages::unreadable`], never dropped: the
//! pipeline runs it again, and a write never removes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::content::{Check, Scores, Seo};
use crate::grounding::{CheckedClaim, Claim, GroundingState, Verdict};
use crate::status::StageStatus;

fn v1() -> u32 {
    1
}

/// What one LLM call cost.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallInfo {
    pub provider: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// `null` when the provider's price is unknown.
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
}

/// A search result kept as a source of the draft; its number is its place
/// in the research's list, from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Source {
    pub title: String,
    pub link: String,
    #[serde(default)]
    pub snippet: String,
    /// The page's readable text, when it could be fetched (limited in
    /// length); what grounding checks claims against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Why the page could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_error: Option<String>,
}

/// A photo chosen as featured image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Photo {
    pub url: String,
    pub alt: String,
    pub photographer: String,
    /// The photo's page on Pexels (attribution).
    pub source_url: String,
}

/// The research stage: web sources for the draft. Research improves a draft
/// but is not needed for one, so it may be skipped or fail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Research {
    Done {
        query: String,
        sources: Vec<Source>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<u64>,
    },
    Skipped {
        reason: String,
    },
    Failed {
        error: String,
    },
}

/// A text the pipeline wrote: the draft, a refinement, a revision after a
/// reviewer's feedback, or the previous version a revision starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    pub status: StageStatus,
    pub content: String,
    /// The call that wrote it; `None` when it was carried over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallInfo>,
    /// The reviewer's feedback it answers (a revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// Where a carried-over text came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Written {
    pub fn by(content: String, call: CallInfo) -> Self {
        Self {
            status: StageStatus::Done,
            content,
            call: Some(call),
            feedback: None,
            source: None,
        }
    }

    /// The text of an earlier version, kept as the start of a revision.
    pub fn carried_over(content: String) -> Self {
        Self {
            status: StageStatus::Done,
            content,
            call: None,
            feedback: None,
            source: Some("previous version".into()),
        }
    }
}

/// One critique of a version: the judge's scores, the deterministic checks
/// and whether the version passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critique {
    pub scores: Option<Scores>,
    pub checks: Vec<Check>,
    pub passed: bool,
    /// The judge's answer when it could not be read.
    pub raw: Option<String>,
    pub calls: Vec<CallInfo>,
}

/// The factual claims extracted from the version of one round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimsStage {
    /// `done`, or `failed` when the answer could not be read twice.
    pub status: StageStatus,
    pub claims: Vec<Claim>,
    /// The answer when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    pub calls: Vec<CallInfo>,
}

/// One source's verdicts on the claims of a round that cite it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyStage {
    pub status: StageStatus,
    pub verdicts: Vec<SourceVerdict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    pub calls: Vec<CallInfo>,
}

/// A verdict on one claim (its index in the round's claims, from 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceVerdict {
    pub claim: usize,
    pub verdict: Verdict,
    pub evidence: String,
}

/// The grounding of one round: every claim with the verdict of its sources
/// and the support rate against the threshold; or why nothing was checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroundingStage {
    pub state: GroundingState,
    /// Why nothing was checked (`unsourced`, `not_applicable`, `failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub claims: Vec<CheckedClaim>,
    /// Supported 1, partly ½, unsupported 0, averaged; `null` without
    /// claims.
    pub support_rate: Option<f64>,
    pub threshold: f64,
    /// Checked, and the rate met the threshold (or there were no claims).
    pub passed: bool,
}

impl GroundingStage {
    pub fn not_checked(state: GroundingState, reason: impl Into<String>, threshold: f64) -> Self {
        Self {
            state,
            reason: Some(reason.into()),
            claims: Vec::new(),
            support_rate: None,
            threshold,
            // Nothing to fix by rewriting: the flag says what it is.
            passed: state != GroundingState::Failed,
        }
    }

    /// The claims a rewrite must fix or cut.
    pub fn unsupported(&self) -> impl Iterator<Item = &CheckedClaim> {
        self.claims
            .iter()
            .filter(|c| c.verdict != Verdict::Supported)
    }
}

/// The SEO stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeoStage {
    pub status: StageStatus,
    pub seo: Seo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<CallInfo>,
}

/// The featured-image stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ImageStage {
    Done {
        query: String,
        photo: Photo,
    },
    Skipped {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
    },
    Failed {
        error: String,
    },
}

impl ImageStage {
    pub fn photo(&self) -> Option<&Photo> {
        match self {
            Self::Done { photo, .. } => Some(photo),
            _ => None,
        }
    }
}

/// One stage, as the pipeline records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Research(Research),
    Draft(Written),
    /// The draft revised with a reviewer's feedback.
    HumanRevision(Written),
    /// Critique of round `n` (0 is the first version).
    Critique(u32, Critique),
    /// Refinement `n` (1 is the first), answering critique `n - 1` (and
    /// grounding `n - 1` when it ran).
    Refine(u32, Written),
    /// Claims of round `n`'s version.
    Claims(u32, ClaimsStage),
    /// Source `s`'s verdicts on round `n`'s claims.
    Verify(u32, u32, VerifyStage),
    /// Grounding of round `n`.
    Grounding(u32, GroundingStage),
    Seo(SeoStage),
    Image(ImageStage),
}

const RESEARCH: &str = "research";
const DRAFT: &str = "draft";
const HUMAN_REVISION: &str = "human_revision";
const CRITIQUE: &str = "critique_";
const REFINE: &str = "refine_";
const CLAIMS: &str = "claims_";
const VERIFY: &str = "verify_";
const GROUNDING: &str = "grounding_";
const SEO: &str = "seo";
const IMAGE: &str = "image";
const VERSION_KEY: &str = "version";

impl Stage {
    /// Its key in `content_tasks.stages`.
    pub fn name(&self) -> String {
        match self {
            Self::Research(_) => RESEARCH.into(),
            Self::Draft(_) => DRAFT.into(),
            Self::HumanRevision(_) => HUMAN_REVISION.into(),
            Self::Critique(n, _) => format!("{CRITIQUE}{n}"),
            Self::Refine(n, _) => format!("{REFINE}{n}"),
            Self::Claims(n, _) => format!("{CLAIMS}{n}"),
            Self::Verify(n, s, _) => format!("{VERIFY}{n}_{s}"),
            Self::Grounding(n, _) => format!("{GROUNDING}{n}"),
            Self::Seo(_) => SEO.into(),
            Self::Image(_) => IMAGE.into(),
        }
    }

    /// Reads one stored stage; `None` when the name or the shape is not one
    /// this code writes.
    fn read(name: &str, v: &Value) -> Option<Self> {
        fn of<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
            T::deserialize(v).ok()
        }
        let round = |prefix: &str| name.strip_prefix(prefix)?.parse::<u32>().ok();
        Some(match name {
            RESEARCH => Self::Research(of(v)?),
            DRAFT => Self::Draft(of(v)?),
            HUMAN_REVISION => Self::HumanRevision(of(v)?),
            SEO => Self::Seo(of(v)?),
            IMAGE => Self::Image(of(v)?),
            _ if round(CRITIQUE).is_some() => Self::Critique(round(CRITIQUE)?, of(v)?),
            _ if round(REFINE).is_some() => Self::Refine(round(REFINE)?, of(v)?),
            _ if round(CLAIMS).is_some() => Self::Claims(round(CLAIMS)?, of(v)?),
            _ if round(GROUNDING).is_some() => Self::Grounding(round(GROUNDING)?, of(v)?),
            _ => {
                let (n, s) = name.strip_prefix(VERIFY)?.split_once('_')?;
                Self::Verify(n.parse().ok()?, s.parse().ok()?, of(v)?)
            }
        })
    }

    pub fn to_json(&self) -> Value {
        let v = match self {
            Self::Research(s) => serde_json::to_value(s),
            Self::Draft(s) | Self::HumanRevision(s) | Self::Refine(_, s) => serde_json::to_value(s),
            Self::Critique(_, s) => serde_json::to_value(s),
            Self::Claims(_, s) => serde_json::to_value(s),
            Self::Verify(_, _, s) => serde_json::to_value(s),
            Self::Grounding(_, s) => serde_json::to_value(s),
            Self::Seo(s) => serde_json::to_value(s),
            Self::Image(s) => serde_json::to_value(s),
        };
        // These types serialise into JSON without fail (string keys only).
        v.unwrap_or(Value::Null)
    }

    /// What the stored status says: a critique stores `passed` instead and
    /// is reported done.
    pub fn status(&self) -> StageStatus {
        match self {
            Self::Research(Research::Done { .. }) | Self::Image(ImageStage::Done { .. }) => {
                StageStatus::Done
            }
            Self::Research(Research::Skipped { .. }) | Self::Image(ImageStage::Skipped { .. }) => {
                StageStatus::Skipped
            }
            Self::Research(Research::Failed { .. }) | Self::Image(ImageStage::Failed { .. }) => {
                StageStatus::Failed
            }
            Self::Draft(w) | Self::HumanRevision(w) | Self::Refine(_, w) => w.status,
            Self::Seo(s) => s.status,
            Self::Claims(_, s) => s.status,
            Self::Verify(_, _, s) => s.status,
            Self::Grounding(_, g) => match g.state {
                GroundingState::Checked => StageStatus::Done,
                GroundingState::Failed => StageStatus::Failed,
                GroundingState::Unsourced | GroundingState::NotApplicable => StageStatus::Skipped,
            },
            Self::Critique(..) => StageStatus::Done,
        }
    }

    /// The calls it made, in order.
    pub fn calls(&self) -> Vec<&CallInfo> {
        match self {
            Self::Draft(w) | Self::HumanRevision(w) | Self::Refine(_, w) => w.call.iter().collect(),
            Self::Seo(s) => s.call.iter().collect(),
            Self::Critique(_, c) => c.calls.iter().collect(),
            Self::Claims(_, c) => c.calls.iter().collect(),
            Self::Verify(_, _, v) => v.calls.iter().collect(),
            Self::Research(_) | Self::Image(_) | Self::Grounding(..) => vec![],
        }
    }

    /// Time spent outside LLM calls (the search), when recorded.
    pub fn latency_ms(&self) -> Option<u64> {
        let calls = self.calls();
        if !calls.is_empty() {
            return Some(calls.iter().map(|c| c.latency_ms).sum());
        }
        match self {
            Self::Research(Research::Done { latency_ms, .. }) => *latency_ms,
            _ => None,
        }
    }
}

/// Every stage of one content task. Critiques and refinements are keyed by
/// round; iteration is in the order the pipeline runs them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stages {
    /// The shape the row was written in.
    pub version: u32,
    pub research: Option<Research>,
    pub draft: Option<Written>,
    pub human_revision: Option<Written>,
    pub critiques: BTreeMap<u32, Critique>,
    pub refinements: BTreeMap<u32, Written>,
    pub claims: BTreeMap<u32, ClaimsStage>,
    /// Keyed by round and source number.
    pub verifications: BTreeMap<(u32, u32), VerifyStage>,
    pub groundings: BTreeMap<u32, GroundingStage>,
    pub seo: Option<SeoStage>,
    pub image: Option<ImageStage>,
    /// Stages this code cannot read, kept as stored.
    pub unreadable: BTreeMap<String, Value>,
}

impl Stages {
    pub const VERSION: u32 = 1;

    /// Reads `content_tasks.stages` (a JSON object keyed by stage name).
    pub fn read(v: &Value) -> Self {
        let mut out = Self {
            version: v1(),
            ..Self::default()
        };
        let Some(map) = v.as_object() else {
            return out;
        };
        for (name, v) in map {
            if name == VERSION_KEY {
                out.version = v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(1);
                continue;
            }
            match Stage::read(name, v) {
                Some(stage) => out.insert(stage),
                None => {
                    out.unreadable.insert(name.clone(), v.clone());
                }
            }
        }
        out
    }

    pub fn insert(&mut self, stage: Stage) {
        self.unreadable.remove(&stage.name());
        match stage {
            Stage::Research(s) => self.research = Some(s),
            Stage::Draft(s) => self.draft = Some(s),
            Stage::HumanRevision(s) => self.human_revision = Some(s),
            Stage::Critique(n, s) => {
                self.critiques.insert(n, s);
            }
            Stage::Refine(n, s) => {
                self.refinements.insert(n, s);
            }
            Stage::Claims(n, s) => {
                self.claims.insert(n, s);
            }
            Stage::Verify(n, src, s) => {
                self.verifications.insert((n, src), s);
            }
            Stage::Grounding(n, s) => {
                self.groundings.insert(n, s);
            }
            Stage::Seo(s) => self.seo = Some(s),
            Stage::Image(s) => self.image = Some(s),
        }
    }

    /// What to merge into the stored object to record `stage` (with the
    /// version of the shape it is written in).
    pub fn patch(stage: &Stage) -> Value {
        let mut m = Map::new();
        m.insert(VERSION_KEY.into(), Self::VERSION.into());
        m.insert(stage.name(), stage.to_json());
        Value::Object(m)
    }

    /// Every readable stage in run order: research, draft, revision, then
    /// critique 0, refine 1, critique 1, …, SEO, image.
    pub fn iter(&self) -> Vec<Stage> {
        let mut out = Vec::new();
        out.extend(self.research.clone().map(Stage::Research));
        out.extend(self.draft.clone().map(Stage::Draft));
        out.extend(self.human_revision.clone().map(Stage::HumanRevision));
        // Within a round: its refinement, critique, claims, each source's
        // verdicts, grounding.
        let mut rounds: Vec<((u32, u8, u32), Stage)> = Vec::new();
        rounds.extend(
            self.refinements
                .iter()
                .map(|(n, w)| ((*n, 0, 0), Stage::Refine(*n, w.clone()))),
        );
        rounds.extend(
            self.critiques
                .iter()
                .map(|(n, c)| ((*n, 1, 0), Stage::Critique(*n, c.clone()))),
        );
        rounds.extend(
            self.claims
                .iter()
                .map(|(n, c)| ((*n, 2, 0), Stage::Claims(*n, c.clone()))),
        );
        rounds.extend(
            self.verifications
                .iter()
                .map(|((n, s), v)| ((*n, 3, *s), Stage::Verify(*n, *s, v.clone()))),
        );
        rounds.extend(
            self.groundings
                .iter()
                .map(|(n, g)| ((*n, 4, 0), Stage::Grounding(*n, g.clone()))),
        );
        rounds.sort_by_key(|(rank, _)| *rank);
        out.extend(rounds.into_iter().map(|(_, s)| s));
        out.extend(self.seo.clone().map(Stage::Seo));
        out.extend(self.image.clone().map(Stage::Image));
        out
    }

    /// The sources research found (none when it was skipped or failed).
    pub fn sources(&self) -> &[Source] {
        match &self.research {
            Some(Research::Done { sources, .. }) => sources,
            _ => &[],
        }
    }

    /// The names a revision forgets: everything but the research and the
    /// image, which do not depend on the text (unreadable stages included,
    /// so a revision never resumes from one).
    pub fn forgotten_by_revision(&self) -> Vec<String> {
        self.iter()
            .iter()
            .filter(|s| !matches!(s, Stage::Research(_) | Stage::Image(_)))
            .map(Stage::name)
            .chain(self.unreadable.keys().cloned())
            .collect()
    }

    /// The tokens and cost of every call every stage made.
    pub fn usage(&self) -> Usage {
        let mut u = Usage::default();
        for stage in self.iter() {
            for c in stage.calls() {
                u.input_tokens += c.input_tokens;
                u.output_tokens += c.output_tokens;
                u.cost_usd += c.cost_usd.unwrap_or(0.0);
            }
        }
        u.total_tokens = u.input_tokens + u.output_tokens;
        u
    }
}

/// The tokens and cost of a whole generation (`content_tasks.usage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Usage {
    /// The shape it was written in (rows from before it existed read as 1).
    #[serde(default = "v1")]
    pub version: u32,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
    /// Calls without a known price count as 0.
    #[serde(default)]
    pub cost_usd: f64,
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            version: Self::VERSION,
            input_tokens: 0,
            output_tokens: 0,
            total_tokens: 0,
            cost_usd: 0.0,
        }
    }
}

impl Usage {
    pub const VERSION: u32 = 1;

    /// Reads a stored total; an empty object (a task not generated yet)
    /// reads as zero.
    pub fn read(v: &Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }
}

/// The quality review of the version kept (`content_tasks.qa_feedback`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QaFeedback {
    /// The shape it was written in (rows from before it existed read as 1).
    #[serde(default = "v1")]
    pub version: u32,
    /// The version met the threshold and passed every check.
    pub passed: bool,
    /// The reverse of `passed`, kept for the original clients.
    pub below_threshold: bool,
    /// The overall score it had to reach.
    pub threshold: f64,
    /// The judge's scores; `null` when its answer could not be read.
    pub scores: Option<Scores>,
    #[serde(default)]
    pub checks: Vec<Check>,
    /// The judge's answer when it could not be read.
    #[serde(default)]
    pub raw_judge_answer: Option<String>,
    /// The judge's advice.
    #[serde(default)]
    pub feedback: Option<String>,
    /// The claims of the version kept, checked against their sources;
    /// `null` for reviews written before grounding existed.
    #[serde(default)]
    pub grounding: Option<GroundingStage>,
    /// Long-form text with no sources to check it against: nothing in it
    /// was checked.
    #[serde(default)]
    pub unsourced: bool,
}

impl QaFeedback {
    pub const VERSION: u32 = 1;

    pub fn of(
        critique: &Critique,
        grounding: Option<&GroundingStage>,
        passed: bool,
        threshold: f64,
    ) -> Self {
        Self {
            grounding: grounding.cloned(),
            unsourced: grounding.is_some_and(|g| g.state == GroundingState::Unsourced),
            version: Self::VERSION,
            passed,
            below_threshold: !passed,
            threshold,
            scores: critique.scores.clone(),
            checks: critique.checks.clone(),
            raw_judge_answer: critique.raw.clone(),
            feedback: critique.scores.as_ref().map(|s| s.feedback.clone()),
        }
    }

    /// Reads a stored review; `None` when there is none or it cannot be read.
    pub fn read(v: Option<&Value>) -> Option<Self> {
        serde_json::from_value(v?.clone()).ok()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(cost: Option<f64>) -> Value {
        json!({"provider": "ollama", "model": "m", "input_tokens": 10,
               "output_tokens": 5, "cost_usd": cost, "latency_ms": 7})
    }

    /// A row as the pipeline wrote it before stages were typed (no version).
    fn stored() -> Value {
        json!({
            "seo": {"status": "done", "call": call(Some(0.5)), "seo": {"title": "T",
                    "meta_description": "D", "keywords": ["a"], "slug": "t", "excerpt": "E"}},
            "refine_1": {"status": "done", "content": "better", "call": call(None)},
            "critique_1": {"scores": null, "checks": [], "passed": true, "raw": null,
                           "calls": [call(Some(0.25)), call(Some(0.25))]},
            "critique_0": {"scores": null, "checks": [], "passed": false, "raw": "?", "calls": []},
            "research": {"status": "skipped", "reason": "no Serper API key"},
            "draft": {"status": "done", "content": "first", "call": call(Some(1.0))},
            "image": {"status": "skipped", "reason": "no photo found", "query": "q"},
            "from_the_future": {"status": "done"},
        })
    }

    #[test]
    fn older_rows_read_in_run_order_keeping_what_cannot_be_read() {
        let s = Stages::read(&stored());
        assert_eq!(s.version, 1);
        let names: Vec<String> = s.iter().iter().map(Stage::name).collect();
        assert_eq!(
            names,
            [
                "research",
                "draft",
                "critique_0",
                "refine_1",
                "critique_1",
                "seo",
                "image"
            ]
        );
        assert_eq!(s.unreadable.keys().collect::<Vec<_>>(), ["from_the_future"]);
        assert_eq!(s.draft.as_ref().map(|d| d.content.as_str()), Some("first"));
        assert!(s.sources().is_empty());
        let u = s.usage();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.total_tokens),
            (50, 25, 75)
        );
        assert!((u.cost_usd - 2.0).abs() < 1e-9);
        let mut forgotten = s.forgotten_by_revision();
        forgotten.sort();
        assert_eq!(
            forgotten,
            [
                "critique_0",
                "critique_1",
                "draft",
                "from_the_future",
                "refine_1",
                "seo"
            ]
        );
    }

    #[test]
    fn every_stage_writes_what_it_reads_and_its_status_tag_is_the_stage_status() {
        let s = Stages::read(&stored());
        let mut again = Stages::default();
        for stage in s.iter() {
            let json = stage.to_json();
            if let Some(tag) = json.get("status") {
                assert_eq!(tag, stage.status().as_str(), "{}", stage.name());
            }
            let patch = Stages::patch(&stage);
            assert_eq!(patch[VERSION_KEY], Stages::VERSION);
            again.insert(Stage::read(&stage.name(), &patch[stage.name()]).unwrap());
        }
        again.version = 1;
        assert_eq!(
            again,
            Stages {
                unreadable: BTreeMap::new(),
                ..s
            }
        );
        for failed in [
            Stage::Research(Research::Failed { error: "x".into() }),
            Stage::Image(ImageStage::Failed { error: "x".into() }),
        ] {
            assert_eq!(failed.to_json()["status"], StageStatus::Failed.as_str());
        }
    }

    #[test]
    fn a_version_key_is_not_a_stage() {
        let s = Stages::read(&json!({"version": 2, "draft": {"status": "done", "content": "x"}}));
        assert_eq!(s.version, 2);
        assert!(s.unreadable.is_empty());
        assert_eq!(s.draft.map(|d| d.call), Some(None));
    }

    #[test]
    fn usage_and_review_read_older_rows() {
        let u = Usage::read(
            &json!({"input_tokens": 3, "output_tokens": 4, "total_tokens": 7, "cost_usd": 0.5}),
        );
        assert_eq!((u.version, u.total_tokens), (1, 7));
        assert_eq!(Usage::read(&json!({})), Usage::default());
        let q = QaFeedback::read(Some(&json!({"passed": false, "below_threshold": true,
            "threshold": 7.0, "scores": null, "checks": [], "raw_judge_answer": "??", "feedback": null})))
        .unwrap();
        assert_eq!(
            (q.version, q.below_threshold, q.raw_judge_answer.as_deref()),
            (1, true, Some("??"))
        );
        assert_eq!(QaFeedback::read(Some(&json!({"nope": 1}))), None);
        assert_eq!(QaFeedback::read(Some(&q.to_json())), Some(q));
    }
}
