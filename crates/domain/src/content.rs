//! Generated content: what was asked for (the spec), the deterministic checks
//! a draft must pass, the judge's scores as parsed from its JSON, and the SEO
//! metadata repaired to the rules. No I/O: the pipeline calls these.

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};

use crate::{DomainError, Slug};

pub const CONTENT_TYPES: [&str; 4] = ["blog_post", "social_media", "email", "newsletter"];
pub const STYLES: [&str; 5] = [
    "technical",
    "narrative",
    "listicle",
    "educational",
    "thought-leadership",
];
pub const TONES: [&str; 4] = ["professional", "casual", "academic", "inspirational"];
/// Social platforms and their post length limits, in characters.
pub const PLATFORMS: [(&str, usize); 5] = [
    ("twitter", 280),
    ("linkedin", 3000),
    ("facebook", 63_206),
    ("instagram", 2200),
    ("threads", 500),
];

pub fn platform_limit(platform: &str) -> Option<usize> {
    PLATFORMS
        .iter()
        .find(|(p, _)| *p == platform)
        .map(|(_, n)| *n)
}

/// What a request gets for what it leaves out (the API, the console,
/// `POST /api/tasks` and the worker all go through [`Brief::spec`]).
pub const DEFAULT_CONTENT_TYPE: &str = "blog_post";
pub const DEFAULT_STYLE: &str = "educational";
pub const DEFAULT_TONE: &str = "professional";
pub const DEFAULT_LENGTH: u32 = 1500;

/// A request for content as it arrives: anything left out takes the
/// defaults above; blank optional text is the same as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Brief {
    pub content_type: Option<String>,
    pub topic: String,
    pub style: Option<String>,
    pub tone: Option<String>,
    pub target_length: Option<u32>,
    pub target_audience: Option<String>,
    pub primary_keyword: Option<String>,
    pub platform: Option<String>,
}

/// The primary keyword is 1 to 100 characters, the audience at most 500.
/// Checked on the text as sent as well as trimmed: the API's schema states
/// the limits of what is sent.
fn check_brief_texts(keyword: Option<&str>, audience: Option<&str>) -> Result<(), DomainError> {
    if keyword.is_some_and(|k| k.trim().is_empty() || k.chars().count() > 100) {
        return Err(DomainError::new(
            "primary_keyword",
            "must be 1 to 100 characters",
        ));
    }
    if audience.is_some_and(|a| a.chars().count() > 500) {
        return Err(DomainError::new(
            "target_audience",
            "must be at most 500 characters",
        ));
    }
    Ok(())
}

impl Brief {
    /// The validated spec, defaults applied.
    pub fn spec(self) -> Result<ContentSpec, DomainError> {
        // Blank is the same as absent; a long text is too long before it is
        // trimmed.
        check_brief_texts(
            self.primary_keyword
                .as_deref()
                .filter(|k| !k.trim().is_empty()),
            self.target_audience.as_deref(),
        )?;
        let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        let spec = ContentSpec {
            content_type: given(self.content_type)
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            topic: self.topic.trim().to_owned(),
            style: given(self.style).unwrap_or_else(|| DEFAULT_STYLE.to_owned()),
            tone: given(self.tone).unwrap_or_else(|| DEFAULT_TONE.to_owned()),
            target_length: self.target_length.unwrap_or(DEFAULT_LENGTH),
            target_audience: given(self.target_audience),
            primary_keyword: given(self.primary_keyword),
            platform: given(self.platform),
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// Tag or category names given with a request or by a reviewer: at most
/// 20, each 1 to 100 characters.
pub fn check_term_names(field: &str, names: &[String]) -> Result<(), DomainError> {
    if names.len() > 20
        || names
            .iter()
            .any(|t| t.trim().is_empty() || t.chars().count() > 100)
    {
        return Err(DomainError::new(
            field,
            "at most 20 names of 1 to 100 characters",
        ));
    }
    Ok(())
}

/// What a content task was asked for beyond its spec, stored as
/// `content_tasks.request` and read back by the pipeline, approval and the
/// console. `version` says which shape a row was written with; fields added
/// later have defaults, so older rows read as they were meant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestOptions {
    #[serde(default = "RequestOptions::v1")]
    pub version: u32,
    /// Tag names; missing ones are created on approval when allowed.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Category names; the first is used.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub platform: Option<String>,
    #[serde(default = "RequestOptions::yes")]
    pub generate_featured_image: bool,
    /// Publish without a reviewer when the draft passes; set only when the
    /// creator held `posts:publish`.
    #[serde(default)]
    pub auto_publish: bool,
    /// The creator held `taxonomy:write` (missing tags may be created).
    #[serde(default)]
    pub can_create_terms: bool,
    /// A reviewer's feedback for the revision now running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_feedback: Option<String>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            version: Self::VERSION,
            tags: vec![],
            categories: vec![],
            platform: None,
            generate_featured_image: true,
            auto_publish: false,
            can_create_terms: false,
            human_feedback: None,
        }
    }
}

impl RequestOptions {
    pub const VERSION: u32 = 1;

    fn v1() -> u32 {
        1
    }

    fn yes() -> bool {
        true
    }

    /// Reads a stored request; a row this code cannot read (it never wrote
    /// one) gives the defaults rather than stopping the run.
    pub fn read(v: &serde_json::Value) -> Self {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }
}

/// What an article must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentSpec {
    pub content_type: String,
    pub topic: String,
    pub style: String,
    pub tone: String,
    /// Words (characters for social posts).
    pub target_length: u32,
    pub target_audience: Option<String>,
    pub primary_keyword: Option<String>,
    /// Social posts only.
    pub platform: Option<String>,
}

impl ContentSpec {
    /// Checks every field against the lists and bounds; the error names it.
    pub fn validate(&self) -> Result<(), DomainError> {
        let one_of = |field: &str, v: &str, list: &[&str]| {
            if list.contains(&v) {
                Ok(())
            } else {
                Err(DomainError::new(
                    field,
                    format!("must be one of {}", list.join(", ")),
                ))
            }
        };
        one_of("task_type", &self.content_type, &CONTENT_TYPES)?;
        one_of("style", &self.style, &STYLES)?;
        one_of("tone", &self.tone, &TONES)?;
        let topic = self.topic.trim().chars().count();
        if !(3..=200).contains(&topic) {
            return Err(DomainError::new("topic", "must be 3 to 200 characters"));
        }
        if !(200..=5000).contains(&self.target_length) {
            return Err(DomainError::new(
                "target_length",
                "must be between 200 and 5000",
            ));
        }
        check_brief_texts(
            self.primary_keyword.as_deref(),
            self.target_audience.as_deref(),
        )?;
        // A platform, when named, must be one whatever the type.
        if self.content_type == "social_media" || self.platform.is_some() {
            let p = self.platform.as_deref().unwrap_or("twitter");
            if platform_limit(p).is_none() {
                let names: Vec<&str> = PLATFORMS.iter().map(|(n, _)| *n).collect();
                return Err(DomainError::new(
                    "platform",
                    format!("must be one of {}", names.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

/// One deterministic check of a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

fn check(name: &str, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_owned(),
        passed,
        detail: detail.into(),
    }
}

/// Headings, links and plain-text words of a markdown document.
struct Outline {
    h1: Vec<String>,
    h2: Vec<String>,
    links: Vec<String>,
    words: usize,
    text: String,
}

fn outline(markdown: &str) -> Outline {
    let mut o = Outline {
        h1: vec![],
        h2: vec![],
        links: vec![],
        words: 0,
        text: String::new(),
    };
    let mut heading: Option<(HeadingLevel, String)> = None;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, text)) = heading.take() {
                    match level {
                        HeadingLevel::H1 => o.h1.push(text),
                        HeadingLevel::H2 => o.h2.push(text),
                        _ => {}
                    }
                }
            }
            Event::Start(Tag::Link { dest_url, .. }) => o.links.push(dest_url.to_string()),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                }
                o.words += t.split_whitespace().count();
                o.text.push_str(&t);
                o.text.push(' ');
            }
            Event::SoftBreak | Event::HardBreak => o.text.push(' '),
            _ => {}
        }
    }
    o
}

pub fn word_count(markdown: &str) -> usize {
    outline(markdown).words
}

/// The first `# ` heading, the article's title.
pub fn title_of(markdown: &str) -> Option<String> {
    outline(markdown)
        .h1
        .into_iter()
        .map(|t| t.trim().to_owned())
        .find(|t| !t.is_empty())
}

const CONCLUSION_WORDS: [&str; 8] = [
    "conclusion",
    "summary",
    "takeaway",
    "final thought",
    "wrapping up",
    "in closing",
    "next step",
    "the bottom line",
];

/// Text a writer (or a model) left to fill in.
const PLACEHOLDERS_ANY_CASE: [&str; 7] = [
    "[insert",
    "lorem ipsum",
    "{{",
    "}}",
    "[placeholder",
    "[your ",
    "[citation needed]",
];
const PLACEHOLDER_WORDS: [&str; 3] = ["TODO", "TBD", "XXX"];

fn link_ok(dest: &str) -> bool {
    if dest.starts_with('/') || dest.starts_with('#') {
        return !dest.contains(char::is_whitespace);
    }
    let Some(rest) = dest
        .strip_prefix("https://")
        .or_else(|| dest.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty()
        && host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && !dest.contains(char::is_whitespace)
}

/// The checks measured in code. Every check is reported; the draft passes
/// when all do.
pub fn check_draft(spec: &ContentSpec, markdown: &str) -> Vec<Check> {
    let o = outline(markdown);
    let mut out = Vec::new();
    let lower = markdown.to_lowercase();
    match spec.content_type.as_str() {
        "social_media" => {
            let platform = spec.platform.as_deref().unwrap_or("twitter");
            let limit = platform_limit(platform).unwrap_or(280);
            let n = markdown.trim().chars().count();
            out.push(check(
                "length",
                n > 0 && n <= limit,
                format!("{n} characters, {platform} allows {limit}"),
            ));
        }
        kind => {
            let target = f64::from(spec.target_length);
            #[expect(clippy::cast_precision_loss, reason = "word counts are small")]
            let words = o.words as f64;
            let within = (words - target).abs() <= target * 0.3;
            out.push(check(
                "word_count",
                within,
                format!(
                    "{} words for a target of {} (±30 %)",
                    o.words, spec.target_length
                ),
            ));
            if kind == "email" {
                let head: Vec<&str> = markdown.lines().take(6).collect();
                let has = |p: &str| {
                    head.iter().any(|l| {
                        l.trim_start()
                            .to_lowercase()
                            .strip_prefix(p)
                            .is_some_and(|r| !r.trim_start_matches(':').trim().is_empty())
                    })
                };
                out.push(check(
                    "subject_line",
                    has("subject:"),
                    "a `Subject:` line at the top",
                ));
                out.push(check(
                    "preview_text",
                    has("preview:"),
                    "a `Preview:` line at the top",
                ));
            } else {
                out.push(check("title", !o.h1.is_empty(), "a `# ` title heading"));
                out.push(check(
                    "sections",
                    o.h2.len() >= 3,
                    format!("{} `## ` sections, at least 3", o.h2.len()),
                ));
                if kind == "blog_post" {
                    let concluded = o.h2.iter().any(|h| {
                        let h = h.to_lowercase();
                        CONCLUSION_WORDS.iter().any(|w| h.contains(w))
                    });
                    out.push(check(
                        "conclusion",
                        concluded,
                        "a closing section (Conclusion, Summary, Key takeaways…)",
                    ));
                }
            }
        }
    }
    if let Some(k) = spec.primary_keyword.as_deref() {
        out.push(check(
            "primary_keyword",
            lower.contains(&k.to_lowercase()),
            format!("the primary keyword “{k}” appears"),
        ));
    }
    let found: Vec<&str> = PLACEHOLDERS_ANY_CASE
        .iter()
        .copied()
        .filter(|p| lower.contains(p))
        .chain(PLACEHOLDER_WORDS.iter().copied().filter(|w| {
            o.text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|t| t == *w)
        }))
        .collect();
    out.push(check(
        "no_placeholders",
        found.is_empty(),
        if found.is_empty() {
            "none left".to_owned()
        } else {
            format!("left in: {}", found.join(", "))
        },
    ));
    let bad: Vec<&String> = o.links.iter().filter(|l| !link_ok(l)).collect();
    out.push(check(
        "links",
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} links, all well formed", o.links.len())
        } else {
            format!(
                "malformed: {}",
                bad.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    ));
    out
}

/// The judge's rubric, each 0–10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scores {
    pub clarity: f64,
    pub accuracy: f64,
    pub completeness: f64,
    pub relevance: f64,
    pub seo_quality: f64,
    pub readability: f64,
    pub engagement: f64,
    pub overall: f64,
    pub feedback: String,
    /// What parsing had to repair in the judge's answer (an alias, a
    /// missing criterion, a clamped value); empty when it was as asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repairs: Vec<String>,
}

impl Scores {
    /// Each criterion with its name, in rubric order (overall last).
    pub fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("clarity", self.clarity),
            ("accuracy", self.accuracy),
            ("completeness", self.completeness),
            ("relevance", self.relevance),
            ("seo_quality", self.seo_quality),
            ("readability", self.readability),
            ("engagement", self.engagement),
            ("overall", self.overall),
        ]
    }
}

/// The JSON object in a model's answer: the whole answer, or the part between
/// the first `{` and the last `}` (models wrap JSON in prose or fences).
pub fn json_object(raw: &str) -> Option<&str> {
    let start = raw.find('{')?;
    let end = raw.rfind('}')?;
    (end > start).then(|| &raw[start..=end])
}

/// The judge's criteria in rubric order.
pub const CRITERIA_NAMES: [&str; 7] = [
    "clarity",
    "accuracy",
    "completeness",
    "relevance",
    "seo_quality",
    "readability",
    "engagement",
];

/// The judge's criteria in rubric order, each with the other names models
/// give it.
const CRITERIA: [(&str, &[&str]); 7] = [
    (CRITERIA_NAMES[0], &["clarity_score"]),
    (CRITERIA_NAMES[1], &["accuracy_score", "factual_accuracy"]),
    (CRITERIA_NAMES[2], &["completeness_score", "coverage"]),
    (CRITERIA_NAMES[3], &["relevance_score"]),
    (CRITERIA_NAMES[4], &["seo", "seo_score"]),
    (CRITERIA_NAMES[5], &["readability_score"]),
    (CRITERIA_NAMES[6], &["engagement_score"]),
];
const OVERALL: (&str, &[&str]) = (
    "overall",
    &[
        "overall_score",
        "score",
        "total",
        "total_score",
        "overall_quality",
    ],
);
const FEEDBACK: (&str, &[&str]) = ("feedback", &["comments", "suggestions", "notes"]);

/// A score as models write it: a number, or a string holding one (`"8"`,
/// `"8.5"`, `"8/10"`).
fn score_of(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => {
            let s = s.trim();
            let s = s.strip_suffix("/10").map(str::trim).unwrap_or(s);
            s.parse::<f64>().ok()
        }
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// The value under a name or one of its aliases (case-insensitively).
fn field<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    (name, aliases): (&str, &[&str]),
) -> Option<&'a serde_json::Value> {
    obj.iter()
        .find(|(k, _)| {
            let k = k.to_ascii_lowercase();
            k == name || aliases.contains(&k.as_str())
        })
        .map(|(_, v)| v)
}

/// Parses the judge's answer as real models write it: the object may sit in
/// prose or a code fence, scores may be strings, criteria may go by common
/// aliases or sit under `"scores"`. A criterion left out takes the mean of
/// the others, a missing `overall` is the mean of the criteria, a value out
/// of 0–10 is clamped; each such repair is listed in `repairs`. An answer
/// with no readable criterion at all is an error saying what is wrong.
pub fn parse_scores(raw: &str) -> Result<Scores, String> {
    let json = json_object(raw).ok_or("no JSON object in the answer")?;
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let top = value.as_object().ok_or("the answer is not a JSON object")?;
    // Criteria may be nested: {"scores": {...}, "feedback": "..."}.
    let mut obj = top.clone();
    if let Some(serde_json::Value::Object(inner)) = top.get("scores") {
        for (k, v) in inner {
            obj.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut repairs = Vec::new();
    let clamp = |name: &str, v: f64, repairs: &mut Vec<String>| {
        if (0.0..=10.0).contains(&v) {
            v
        } else {
            let c = v.clamp(0.0, 10.0);
            repairs.push(format!("{name} = {v} was outside 0–10, clamped to {c}"));
            c
        }
    };
    let read: Vec<(&str, Option<f64>)> = CRITERIA
        .iter()
        .map(|&(name, aliases)| {
            let v = field(&obj, (name, aliases)).and_then(score_of);
            (name, v.map(|v| clamp(name, v, &mut repairs)))
        })
        .collect();
    let present: Vec<f64> = read.iter().filter_map(|(_, v)| *v).collect();
    let overall = field(&obj, OVERALL).and_then(score_of);
    if present.is_empty() && overall.is_none() {
        return Err(
            "no readable score: expected numbers 0–10 for the rubric's criteria and overall".into(),
        );
    }
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let overall = match overall {
        Some(o) => clamp("overall", o, &mut repairs),
        None => {
            let m = (mean(&present) * 10.0).round() / 10.0;
            repairs.push(format!(
                "overall was missing: the mean of the criteria, {m}"
            ));
            m
        }
    };
    let stand_in = if present.is_empty() {
        overall
    } else {
        mean(&present)
    };
    let mut score = |name: &str, v: Option<f64>| match v {
        Some(v) => v,
        None => {
            let m = (stand_in * 10.0).round() / 10.0;
            repairs.push(format!("{name} was missing: {m} stands in for it"));
            m
        }
    };
    let [
        clarity,
        accuracy,
        completeness,
        relevance,
        seo_quality,
        readability,
        engagement,
    ] = [0, 1, 2, 3, 4, 5, 6].map(|i| score(read[i].0, read[i].1));
    let feedback = match field(&obj, FEEDBACK) {
        Some(serde_json::Value::String(t)) => t.trim().to_owned(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::trim))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => {
            repairs.push("feedback was missing".into());
            String::new()
        }
    };
    Ok(Scores {
        clarity,
        accuracy,
        completeness,
        relevance,
        seo_quality,
        readability,
        engagement,
        overall,
        feedback,
        repairs,
    })
}

/// SEO metadata as a model proposed it (any field may be missing or wrong).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SeoDraft {
    pub title: String,
    pub meta_description: String,
    pub keywords: Vec<String>,
    pub slug: String,
    pub excerpt: String,
}

/// SEO metadata within the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seo {
    /// At most 60 characters.
    pub title: String,
    /// At most 160 characters.
    pub meta_description: String,
    /// 5 to 7, distinct.
    pub keywords: Vec<String>,
    /// A valid slug (uniqueness is the database's to settle).
    pub slug: String,
    /// At most 300 characters.
    pub excerpt: String,
}

pub const SEO_TITLE_MAX: usize = 60;
pub const META_DESCRIPTION_MAX: usize = 160;
pub const EXCERPT_MAX: usize = 300;

/// At most `max` characters, cut at a word boundary, without trailing
/// punctuation left dangling.
pub fn cut_words(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let head: String = s.chars().take(max + 1).collect();
    let cut = match head.rfind(' ') {
        Some(i) if i > 0 => &head[..i],
        _ => &head[..head.char_indices().nth(max).map_or(head.len(), |(i, _)| i)],
    };
    cut.trim_end_matches([',', ';', ':', '-', '–', '—', ' '])
        .to_owned()
}

/// The first paragraph of plain text after the title.
fn first_paragraph(markdown: &str) -> String {
    let mut in_para = false;
    let mut out = String::new();
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::Paragraph) => in_para = true,
            Event::End(TagEnd::Paragraph) if !out.trim().is_empty() => break,
            Event::End(TagEnd::Paragraph) => in_para = false,
            Event::Text(t) | Event::Code(t) if in_para => out.push_str(&t),
            Event::SoftBreak if in_para => out.push(' '),
            _ => {}
        }
    }
    out.trim().to_owned()
}

const STOPWORDS: [&str; 24] = [
    "the", "and", "for", "with", "that", "this", "from", "your", "what", "when", "how", "why",
    "into", "about", "are", "you", "our", "its", "their", "will", "can", "a", "an", "to",
];

/// Repairs a model's SEO proposal against the rules, falling back to the
/// article itself for anything missing.
pub fn repair_seo(draft: SeoDraft, spec: &ContentSpec, article: &str) -> Seo {
    let article_title = title_of(article).unwrap_or_else(|| spec.topic.clone());
    let title = if draft.title.trim().is_empty() {
        article_title.clone()
    } else {
        draft.title
    };
    let title = cut_words(&title, SEO_TITLE_MAX);
    let paragraph = first_paragraph(article);
    let description = if draft.meta_description.trim().is_empty() {
        paragraph.clone()
    } else {
        draft.meta_description
    };
    let excerpt = if draft.excerpt.trim().is_empty() {
        paragraph
    } else {
        draft.excerpt
    };
    let mut keywords: Vec<String> = Vec::new();
    let push = |k: &str, keywords: &mut Vec<String>| {
        let k = k
            .trim()
            .trim_matches(|c: char| c == '#' || c == ',')
            .to_lowercase();
        if !k.is_empty() && k.chars().count() <= 60 && !keywords.contains(&k) && keywords.len() < 7
        {
            keywords.push(k);
        }
    };
    if let Some(k) = &spec.primary_keyword {
        push(k, &mut keywords);
    }
    for k in &draft.keywords {
        push(k, &mut keywords);
    }
    // Too few: words of the topic, the title and the section headings, then
    // the article's most frequent words.
    let o = outline(article);
    let mut frequent: Vec<(String, usize)> = Vec::new();
    for w in o.text.split(|c: char| !c.is_alphanumeric()) {
        let lw = w.to_lowercase();
        match frequent.iter_mut().find(|(k, _)| *k == lw) {
            Some((_, n)) => *n += 1,
            None => frequent.push((lw, 1)),
        }
    }
    frequent.sort_by_key(|x| std::cmp::Reverse(x.1));
    let head = format!("{} {} {}", spec.topic, article_title, o.h2.join(" "));
    let candidates = head
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .chain(frequent.into_iter().map(|(w, _)| w));
    for lw in candidates {
        if keywords.len() >= 5 {
            break;
        }
        if lw.chars().count() >= 4 && !STOPWORDS.contains(&lw.as_str()) {
            push(&lw, &mut keywords);
        }
    }
    let slug = Slug::parse(draft.slug.trim())
        .ok()
        .or_else(|| Slug::from_title(&draft.slug))
        .or_else(|| Slug::from_title(&title))
        .or_else(|| Slug::from_title(&spec.topic))
        .map_or_else(|| "article".to_owned(), Slug::into_inner);
    Seo {
        title,
        meta_description: cut_words(&description, META_DESCRIPTION_MAX),
        keywords,
        slug,
        excerpt: cut_words(&excerpt, EXCERPT_MAX),
    }
}

/// A reviewer's feedback (for a revision, or a rejection in the console):
/// 1 to 5,000 characters once trimmed. Returns the trimmed text.
pub fn feedback(text: &str) -> Result<&str, DomainError> {
    let trimmed = text.trim();
    let n = trimmed.chars().count();
    if n == 0 || n > 5000 {
        return Err(DomainError::new("feedback", "1 to 5,000 characters"));
    }
    Ok(trimmed)
}

pub use crate::status::PublishMode;

/// What approving a blog post makes of it: the mode asked for at approval
/// (else the one chosen at creation) and an optional publication time give
/// the post's status and `published_at`. A time in the future schedules; a
/// time with `draft` asked for explicitly is a contradiction.
pub fn approval_outcome(
    requested: Option<PublishMode>,
    chosen_at_creation: PublishMode,
    publish_at: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<
    (
        crate::post::PostStatus,
        Option<chrono::DateTime<chrono::Utc>>,
    ),
    DomainError,
> {
    use crate::post::PostStatus;
    if requested == Some(PublishMode::Draft) && publish_at.is_some() {
        return Err(DomainError::new(
            "publish_at",
            "a publication time cannot go with publish_mode draft",
        ));
    }
    let publish =
        publish_at.is_some() || requested.unwrap_or(chosen_at_creation) == PublishMode::Publish;
    Ok(match (publish, publish_at) {
        (false, _) => (PostStatus::Draft, None),
        (true, Some(at)) if at > now => (PostStatus::Scheduled, Some(at)),
        (true, _) => (PostStatus::Published, Some(now)),
    })
}

#[cfg(test)]
mod brief_tests {
    use super::*;

    #[test]
    fn brief_limits_hold_for_the_text_as_sent() {
        let brief = |audience: String| Brief {
            topic: "A topic".into(),
            target_audience: Some(audience),
            ..Brief::default()
        };
        let padded = format!("\r{}", "a".repeat(500));
        assert_eq!(brief(padded).spec().unwrap_err().field, "target_audience");
        assert!(brief("a".repeat(500)).spec().is_ok());
    }

    #[test]
    fn one_set_of_defaults_and_blank_is_absent() {
        let spec = Brief {
            topic: "  Indexes in PostgreSQL ".into(),
            primary_keyword: Some("  ".into()),
            ..Brief::default()
        }
        .spec()
        .unwrap();
        assert_eq!(spec.content_type, DEFAULT_CONTENT_TYPE);
        assert_eq!(spec.style, DEFAULT_STYLE);
        assert_eq!(spec.tone, DEFAULT_TONE);
        assert_eq!(spec.target_length, DEFAULT_LENGTH);
        assert_eq!(spec.topic, "Indexes in PostgreSQL");
        assert_eq!(spec.primary_keyword, None);
        let e = Brief {
            topic: "Indexes".into(),
            style: Some("poetic".into()),
            ..Brief::default()
        }
        .spec()
        .unwrap_err();
        assert_eq!(e.field, "style");
        assert!(check_term_names("tags", &["a".into()]).is_ok());
        assert_eq!(
            check_term_names("tags", &[" ".into()]).unwrap_err().field,
            "tags"
        );
        assert!(check_term_names("categories", &vec!["x".into(); 21]).is_err());
    }

    #[test]
    fn request_options_read_older_rows() {
        // A row written before `version` and `generate_featured_image` existed.
        let old = serde_json::json!({"tags": ["rust"], "categories": []});
        let r = RequestOptions::read(&old);
        assert_eq!(r.version, 1);
        assert!(r.generate_featured_image);
        assert_eq!(r.tags, vec!["rust".to_owned()]);
        let back = RequestOptions::read(&r.to_json());
        assert_eq!(back, r);
        assert_eq!(
            RequestOptions::read(&serde_json::json!(42)),
            RequestOptions::default()
        );
    }
}

#[cfg(test)]
mod publish_tests {
    use chrono::{Duration, Utc};

    use super::*;
    use crate::post::PostStatus;

    #[test]
    fn approval_publishes_unless_a_draft_is_asked_for() {
        let now = Utc::now();
        let later = now + Duration::hours(2);
        use PublishMode::*;
        let status = |r, c, at| approval_outcome(r, c, at, now).map(|(s, _)| s);
        assert_eq!(PublishMode::default(), Publish);
        assert_eq!(status(None, Publish, None), Ok(PostStatus::Published));
        assert_eq!(status(None, Draft, None), Ok(PostStatus::Draft));
        assert_eq!(status(Some(Draft), Publish, None), Ok(PostStatus::Draft));
        assert_eq!(
            status(Some(Publish), Draft, None),
            Ok(PostStatus::Published)
        );
        assert_eq!(status(None, Draft, Some(later)), Ok(PostStatus::Scheduled));
        assert_eq!(
            approval_outcome(None, Publish, Some(later), now).unwrap().1,
            Some(later)
        );
        assert_eq!(
            status(None, Publish, Some(now - Duration::hours(1))),
            Ok(PostStatus::Published)
        );
        assert_eq!(
            status(Some(Draft), Publish, Some(later)).unwrap_err().field,
            "publish_at"
        );
        assert_eq!(PublishMode::parse("m", "publish"), Ok(Publish));
        assert!(PublishMode::parse("m", "now").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feedback_is_one_to_five_thousand_characters_trimmed() {
        assert_eq!(feedback("  Add an example. \n").unwrap(), "Add an example.");
        assert_eq!(feedback(&"é".repeat(5000)).unwrap().chars().count(), 5000);
        for bad in ["", "   \n", &"x".repeat(5001)] {
            assert_eq!(feedback(bad).unwrap_err().field, "feedback");
        }
    }

    fn spec() -> ContentSpec {
        ContentSpec {
            content_type: "blog_post".into(),
            topic: "Rust for web services".into(),
            style: "educational".into(),
            tone: "professional".into(),
            target_length: 30,
            target_audience: None,
            primary_keyword: Some("rust".into()),
            platform: None,
        }
    }

    const GOOD: &str = "# Rust on the server\n\nRust makes fast and safe web services, as [the book](https://doc.rust-lang.org/book/) shows.\n\n## Why\n\nMemory safety without a collector.\n\n## How\n\nActix and Tokio.\n\n## Conclusion\n\nTry it for your next service today.\n";

    #[test]
    fn a_good_draft_passes_every_check() {
        let checks = check_draft(&spec(), GOOD);
        assert!(checks.iter().all(|c| c.passed), "{checks:#?}");
        assert_eq!(title_of(GOOD).as_deref(), Some("Rust on the server"));
    }

    #[test]
    fn each_check_can_fail() {
        let bad = "Intro only. TODO write more. [link](htp:/nope)\n";
        let checks = check_draft(&spec(), bad);
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            failed,
            [
                "word_count",
                "title",
                "sections",
                "conclusion",
                "primary_keyword",
                "no_placeholders",
                "links"
            ]
        );
    }

    #[test]
    fn social_and_email_have_their_own_checks() {
        let mut s = spec();
        s.content_type = "social_media".into();
        s.platform = Some("twitter".into());
        let long = "rust ".repeat(70);
        assert!(
            !check_draft(&s, &long)
                .iter()
                .find(|c| c.name == "length")
                .unwrap()
                .passed
        );
        assert!(check_draft(&s, "Rust is great").iter().all(|c| c.passed));
        s.content_type = "email".into();
        let email = "Subject: Rust news\nPreview: what changed\n\nHello, rust readers, here is the news of the month in brief words.";
        let checks = check_draft(&s, email);
        assert!(
            checks
                .iter()
                .filter(|c| c.name != "word_count")
                .all(|c| c.passed),
            "{checks:#?}"
        );
        assert!(
            !check_draft(&s, "Hello rust")
                .iter()
                .find(|c| c.name == "subject_line")
                .unwrap()
                .passed
        );
    }

    #[test]
    fn judge_json_is_found_validated_and_feedback_joined() {
        let raw = "Here you go:\n```json\n{\"clarity\": 8, \"accuracy\": 7, \"completeness\": 6, \"relevance\": 9, \"seo_quality\": 5, \"readability\": 8, \"engagement\": 7, \"overall\": 7.2, \"feedback\": [\"Add examples\", \"Shorter intro\"]}\n```";
        let s = parse_scores(raw).unwrap();
        assert!((s.overall - 7.2).abs() < 1e-9);
        assert_eq!(s.feedback, "Add examples\nShorter intro");
        assert!(s.repairs.is_empty(), "{:?}", s.repairs);
        assert!(parse_scores("no json here").is_err());
        assert!(parse_scores("{\"clarity\": \"good\"}").is_err());
        let out_of_range = raw.replace("\"overall\": 7.2", "\"overall\": 11");
        let s = parse_scores(&out_of_range).unwrap();
        assert_eq!(s.overall, 10.0);
        assert!(s.repairs[0].contains("overall = 11"), "{:?}", s.repairs);
    }

    #[test]
    fn judge_answers_as_real_models_write_them_are_repaired_and_say_so() {
        // An alias for overall, scores as strings, one criterion left out.
        let raw = "Sure! {\"clarity\": \"8\", \"accuracy\": 7, \"completeness\": \"6/10\", \"relevance\": 9, \"seo\": 5, \"readability\": 8, \"overall_score\": 7.5, \"comments\": \"Tighten it.\"}";
        let s = parse_scores(raw).unwrap();
        assert_eq!(
            (s.clarity, s.completeness, s.seo_quality, s.overall),
            (8.0, 6.0, 5.0, 7.5)
        );
        assert_eq!(s.feedback, "Tighten it.");
        // Engagement was left out: the mean of the six others stands in.
        assert!((s.engagement - 7.2).abs() < 1e-9, "{}", s.engagement);
        assert_eq!(s.repairs.len(), 1, "{:?}", s.repairs);
        assert!(s.repairs[0].starts_with("engagement was missing"));
        // No overall: the mean of the criteria; nested under "scores".
        let raw = "{\"scores\": {\"clarity\": 6, \"accuracy\": 6, \"completeness\": 6, \"relevance\": 6, \"seo_quality\": 6, \"readability\": 6, \"engagement\": 9}, \"feedback\": [\"a\", \"b\"]}";
        let s = parse_scores(raw).unwrap();
        assert!((s.overall - 6.4).abs() < 1e-9, "{}", s.overall);
        assert_eq!(s.feedback, "a\nb");
        assert_eq!(
            s.repairs,
            ["overall was missing: the mean of the criteria, 6.4"]
        );
        // Only an overall: it stands in for every criterion.
        let s = parse_scores("{\"score\": \"7\"}").unwrap();
        assert_eq!((s.overall, s.clarity, s.engagement), (7.0, 7.0, 7.0));
        assert_eq!(
            s.repairs.len(),
            8,
            "seven criteria and the feedback: {:?}",
            s.repairs
        );
        // Values far out of range are clamped, negative ones too.
        let s = parse_scores("{\"overall\": -3, \"clarity\": 85, \"feedback\": \"x\"}").unwrap();
        assert_eq!((s.overall, s.clarity), (0.0, 10.0));
    }

    #[test]
    fn seo_is_repaired_to_the_rules() {
        let draft = SeoDraft {
            title: "An extremely long title about Rust web services that goes on and on forever"
                .into(),
            meta_description: "word ".repeat(50),
            keywords: vec!["Rust".into(), "rust".into(), " actix ".into()],
            slug: "Not A Slug!".into(),
            excerpt: String::new(),
        };
        let seo = repair_seo(draft, &spec(), GOOD);
        assert!(
            seo.title.chars().count() <= 60 && !seo.title.ends_with(' '),
            "{}",
            seo.title
        );
        assert!(seo.title.starts_with("An extremely long title"));
        assert!(seo.meta_description.chars().count() <= 160);
        assert!(seo.meta_description.ends_with("word"));
        assert!((5..=7).contains(&seo.keywords.len()), "{:?}", seo.keywords);
        assert_eq!(&seo.keywords[..2], ["rust", "actix"]);
        assert_eq!(seo.slug, "not-a-slug");
        assert!(
            seo.excerpt
                .starts_with("Rust makes fast and safe web services")
        );
    }

    #[test]
    fn cut_words_never_splits_a_word() {
        assert_eq!(cut_words("alpha beta gamma", 12), "alpha beta");
        assert_eq!(cut_words("alpha, beta", 7), "alpha");
        assert_eq!(cut_words("short", 60), "short");
        assert_eq!(cut_words("ééééé", 3), "ééé");
    }

    #[test]
    fn spec_validation_names_the_field() {
        let mut s = spec();
        s.target_length = 1000;
        assert!(s.validate().is_ok());
        s.style = "poetic".into();
        assert_eq!(s.validate().unwrap_err().field, "style");
        let mut s = spec();
        s.target_length = 1000;
        s.topic = "ab".into();
        assert_eq!(s.validate().unwrap_err().field, "topic");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn spec(keyword: Option<String>) -> ContentSpec {
        ContentSpec {
            content_type: "blog_post".into(),
            topic: "Anything at all".into(),
            style: "educational".into(),
            tone: "professional".into(),
            target_length: 800,
            target_audience: None,
            primary_keyword: keyword,
            platform: None,
        }
    }

    proptest! {
        #[test]
        fn repaired_seo_always_meets_the_rules(
            title in ".{0,200}", description in ".{0,400}", slug in ".{0,120}",
            keywords in prop::collection::vec(".{0,80}", 0..12), excerpt in ".{0,600}",
            article in ".{0,2000}", keyword in proptest::option::of("[a-z ]{1,30}"),
        ) {
            let seo = repair_seo(SeoDraft { title, meta_description: description, keywords, slug, excerpt }, &spec(keyword), &article);
            prop_assert!(seo.title.chars().count() <= SEO_TITLE_MAX);
            prop_assert!(seo.meta_description.chars().count() <= META_DESCRIPTION_MAX);
            prop_assert!(seo.excerpt.chars().count() <= EXCERPT_MAX);
            prop_assert!(seo.keywords.len() <= 7);
            prop_assert!(Slug::parse(&seo.slug).is_ok(), "{}", seo.slug);
            let mut dedup = seo.keywords.clone();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), seo.keywords.len());
        }

        #[test]
        fn cut_words_is_a_bounded_prefix(s in ".{0,300}", max in 0usize..120) {
            let cut = cut_words(&s, max);
            prop_assert!(cut.chars().count() <= max);
            let normal = s.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert!(normal.starts_with(&cut), "{cut:?} is not a prefix of {normal:?}");
        }

        #[test]
        fn checks_and_judge_parsing_never_panic(text in ".{0,3000}", raw in ".{0,500}") {
            let checks = check_draft(&spec(Some("kw".into())), &text);
            prop_assert!(checks.iter().any(|c| c.name == "links"));
            let _ = parse_scores(&raw);
            let _ = title_of(&text);
        }
    }
}

/// How alike (trigram similarity, 0–1) a new request's topic or primary
/// keyword and an existing post's title or request's topic must be for the
/// request to count as a duplicate, when the setting says nothing.
pub const DEFAULT_DUPLICATE_SIMILARITY: f64 = 0.6;
/// The setting that overrides it.
pub const DUPLICATE_SIMILARITY_SETTING: &str = "pipeline.duplicate_similarity";

/// A stored duplicate threshold: a number from 0.3 (pg_trgm's own
/// threshold, which the search narrows by first) to 1 (exact matches only).
pub fn parse_duplicate_similarity(v: &serde_json::Value) -> Result<f64, &'static str> {
    v.as_f64()
        .filter(|t| (0.3..=1.0).contains(t))
        .ok_or("must be a number from 0.3 to 1 (trigram similarity)")
}

/// The threshold from the setting; unset or unreadable is the default.
pub fn duplicate_similarity(setting: Option<&serde_json::Value>) -> f64 {
    setting
        .and_then(|v| parse_duplicate_similarity(v).ok())
        .unwrap_or(DEFAULT_DUPLICATE_SIMILARITY)
}
