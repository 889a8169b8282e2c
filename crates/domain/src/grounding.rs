//! Grounded generation's rules: sources are numbered from 1 in research
//! order and cited inline as `[n]`; the checks made in code on a draft's
//! citations and links; claims, their verdicts and the support rate; the
//! sources list appended to an article (rendered from the stored sources,
//! never from the model's text); and the JSON Schema of every structured
//! answer the pipeline asks for.

use std::collections::BTreeSet;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::content::Check;
use crate::generation::Source;

/// The support rate a draft needs when the setting says nothing.
pub const DEFAULT_SUPPORT_THRESHOLD: f64 = 0.8;
/// The setting that overrides it (0–1).
pub const SUPPORT_THRESHOLD_SETTING: &str = "pipeline.support_threshold";
/// Hosts a draft may link to besides its sources (a JSON array of host
/// names; a host also allows its subdomains).
pub const LINK_ALLOW_LIST_SETTING: &str = "pipeline.link_allow_list";
/// The heading of the sources list the pipeline appends.
pub const SOURCES_HEADING: &str = "## Sources";

/// The exact shape of a structured answer: a name (`a-z`, `_`), what it is
/// for, and a JSON Schema in the subset every provider accepts (every
/// property required, no additional properties).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSchema {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The judge's critique: each criterion and `overall` from 0 to 10, and
/// feedback.
pub fn critique_schema() -> OutputSchema {
    let mut props = serde_json::Map::new();
    for name in crate::content::CRITERIA_NAMES
        .iter()
        .chain(["overall"].iter())
    {
        props.insert(
            (*name).to_owned(),
            json!({"type": "number", "minimum": 0, "maximum": 10}),
        );
    }
    props.insert(
        "feedback".into(),
        json!({"type": "string", "description": "concrete changes to make"}),
    );
    OutputSchema {
        name: "critique",
        description: "The editor's scores of the text, 0 to 10, and the changes to make",
        schema: object(Value::Object(props)),
    }
}

/// SEO metadata.
pub fn seo_schema() -> OutputSchema {
    OutputSchema {
        name: "seo",
        description: "SEO metadata of the article",
        schema: object(json!({
            "title": {"type": "string", "description": "at most 60 characters"},
            "meta_description": {"type": "string", "description": "at most 160 characters"},
            "keywords": {"type": "array", "items": {"type": "string"}, "description": "5 to 7 keywords"},
            "slug": {"type": "string", "description": "lower-case words joined by hyphens"},
            "excerpt": {"type": "string", "description": "one or two sentences"},
        })),
    }
}

/// The factual claims of a text, each with the source numbers it cites.
pub fn claims_schema() -> OutputSchema {
    OutputSchema {
        name: "claims",
        description: "The checkable factual claims of the text with the [n] citations each carries",
        schema: object(json!({
            "claims": {"type": "array", "items": object(json!({
                "claim": {"type": "string", "description": "the claim, as one self-contained sentence"},
                "citations": {"type": "array", "items": {"type": "integer"}, "description": "the n of each [n] it cites; empty when none"},
            }))},
        })),
    }
}

/// The judge's verdict on each numbered claim against one source's text.
pub fn verdicts_schema() -> OutputSchema {
    OutputSchema {
        name: "verdicts",
        description: "Whether the source supports each claim, with the quoted evidence",
        schema: object(json!({
            "verdicts": {"type": "array", "items": object(json!({
                "claim": {"type": "integer", "description": "the claim's number"},
                "verdict": {"type": "string", "enum": ["supported", "partly", "unsupported"]},
                "evidence": {"type": "string", "description": "the source's words that decide it, quoted exactly; empty when none"},
            }))},
        })),
    }
}

/// How far a source supports a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Unsupported,
    Partly,
    Supported,
}

impl Verdict {
    /// What it counts for in the support rate.
    pub fn weight(self) -> f64 {
        match self {
            Self::Supported => 1.0,
            Self::Partly => 0.5,
            Self::Unsupported => 0.0,
        }
    }

    /// Models write `"Supported"`, `"partially supported"`, `"not
    /// supported"`, `"yes"`.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = raw.trim().to_ascii_lowercase().replace(['_', '-'], " ");
        if s.starts_with("partl") || s.starts_with("partial") {
            Some(Self::Partly)
        } else if s.starts_with("unsupported")
            || s.starts_with("not ")
            || s == "no"
            || s == "false"
            || s.starts_with("contradict")
        {
            Some(Self::Unsupported)
        } else if s.starts_with("supported") || s == "yes" || s == "true" {
            Some(Self::Supported)
        } else {
            None
        }
    }
}

/// A claim as extracted from a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub claim: String,
    #[serde(default)]
    pub citations: Vec<u32>,
}

/// A claim with the verdict of the sources it cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckedClaim {
    pub claim: String,
    pub citations: Vec<u32>,
    pub verdict: Verdict,
    /// The source's words, quoted; empty when none supports it.
    pub evidence: String,
    /// The source the verdict and evidence come from.
    pub source: Option<u32>,
    /// Why it is unsupported without a judge's word (no citation, a source
    /// that does not exist or could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Which claims each source is asked about: for every source number
/// (1..=`sources`) some claim cites, the indices of those claims.
pub fn batches(claims: &[Claim], sources: usize) -> std::collections::BTreeMap<u32, Vec<usize>> {
    let mut out: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, c) in claims.iter().enumerate() {
        for n in c.citations.iter().collect::<BTreeSet<_>>() {
            if *n >= 1 && (*n as usize) <= sources {
                out.entry(*n).or_default().push(i);
            }
        }
    }
    out
}

/// Every claim with the best verdict any source it cites gave it. A claim
/// citing nothing, or only numbers that are not sources, or that no source
/// gave a verdict on, is unsupported, with a note saying why.
pub fn assemble(
    claims: &[Claim],
    sources: usize,
    verdicts: &std::collections::BTreeMap<u32, Vec<crate::generation::SourceVerdict>>,
) -> Vec<CheckedClaim> {
    claims
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let valid: Vec<u32> = c
                .citations
                .iter()
                .copied()
                .filter(|n| *n >= 1 && (*n as usize) <= sources)
                .collect();
            let best = valid
                .iter()
                .filter_map(|n| {
                    verdicts
                        .get(n)?
                        .iter()
                        .find(|v| v.claim == i)
                        .map(|v| (*n, v))
                })
                .max_by_key(|(_, v)| v.verdict);
            let note = if c.citations.is_empty() {
                Some("cites no source".to_owned())
            } else if valid.is_empty() {
                Some(format!(
                    "cites {}, which is not a source",
                    c.citations
                        .iter()
                        .map(|n| format!("[{n}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            } else if best.is_none() {
                Some("no verdict from the sources it cites".to_owned())
            } else {
                None
            };
            CheckedClaim {
                claim: c.claim.clone(),
                citations: c.citations.clone(),
                verdict: best.map_or(Verdict::Unsupported, |(_, v)| v.verdict),
                evidence: best.map(|(_, v)| v.evidence.clone()).unwrap_or_default(),
                source: best.map(|(n, _)| n),
                note,
            }
        })
        .collect()
}

/// The support rate of checked claims: supported 1, partly ½, unsupported
/// 0, averaged; `None` without claims.
pub fn support_rate(claims: &[CheckedClaim]) -> Option<f64> {
    if claims.is_empty() {
        return None;
    }
    let sum: f64 = claims.iter().map(|c| c.verdict.weight()).sum();
    Some(sum / claims.len() as f64)
}

/// Whether a grounding result passes: no claims to check, or a rate at the
/// threshold.
pub fn grounded(rate: Option<f64>, threshold: f64) -> bool {
    rate.is_none_or(|r| r + 1e-9 >= threshold)
}

/// A stored support threshold: a number from 0 to 1.
pub fn parse_support_threshold(v: &Value) -> Result<f64, &'static str> {
    v.as_f64()
        .filter(|t| (0.0..=1.0).contains(t))
        .ok_or("must be a number from 0 to 1 (the share of claims their sources support)")
}

/// The threshold from the setting; unset or unreadable is the default.
pub fn support_threshold(setting: Option<&Value>) -> f64 {
    setting
        .and_then(|v| parse_support_threshold(v).ok())
        .unwrap_or(DEFAULT_SUPPORT_THRESHOLD)
}

/// A stored allow-list: host names (`docs.rs`; `*.example.com` is the same
/// as `example.com`), lower-cased.
pub fn parse_link_allow_list(v: &Value) -> Result<Vec<String>, &'static str> {
    const WHY: &str = "must be a list of host names, such as [\"docs.rs\", \"example.com\"]";
    let hosts = v.as_array().ok_or(WHY)?;
    hosts
        .iter()
        .map(|h| {
            let h = h.as_str().ok_or(WHY)?;
            let h = h.trim().trim_start_matches("*.").to_ascii_lowercase();
            let valid = !h.is_empty()
                && h.len() <= 253
                && h.split('.').all(|label| {
                    !label.is_empty()
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if valid { Ok(h) } else { Err(WHY) }
        })
        .collect()
}

/// The allow-list from the setting; unset or unreadable is empty.
pub fn link_allow_list(setting: Option<&Value>) -> Vec<String> {
    setting
        .and_then(|v| parse_link_allow_list(v).ok())
        .unwrap_or_default()
}

fn first_json_object(raw: &str) -> Option<Value> {
    let obj = crate::content::json_object(raw)?;
    serde_json::from_str(obj).ok()
}

fn number_of(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().trim_matches(['[', ']']).parse().ok(),
        _ => None,
    }
}

/// The list an answer holds: a bare JSON list, or the list under the
/// first of `keys` of the first JSON object in the text (code fences and
/// prose around it allowed).
fn list_in(raw: &str, keys: &[&str]) -> Result<Vec<Value>, String> {
    let trimmed = raw.trim();
    let value: Value = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| e.to_string())?
    } else {
        first_json_object(raw).ok_or("no JSON object in the answer")?
    };
    match value {
        Value::Array(a) => Ok(a),
        Value::Object(mut o) => keys
            .iter()
            .find_map(|k| match o.remove(*k) {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            })
            .ok_or_else(|| format!("no \"{}\" list in the answer", keys[0])),
        _ => Err("the answer is not a JSON object".into()),
    }
}

/// Claims from the extractor's answer: `{"claims": [...]}` or a bare list,
/// each `{"claim"|"text"|"statement": ..., "citations"|"sources": [...]}`;
/// citations as numbers, strings or `"[2]"`. Also reads the citations
/// written into the claim itself.
pub fn parse_claims(raw: &str) -> Result<Vec<Claim>, String> {
    let list = list_in(raw, &["claims"])?;
    let mut out = Vec::new();
    for item in list {
        let (text, cites) = match &item {
            Value::String(s) => (s.clone(), Vec::new()),
            Value::Object(o) => {
                let text = ["claim", "text", "statement"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_str))
                    .unwrap_or_default()
                    .to_owned();
                let cites = ["citations", "sources", "cites"]
                    .iter()
                    .find_map(|k| o.get(*k))
                    .map(|v| match v {
                        Value::Array(a) => a.iter().filter_map(number_of).collect(),
                        other => number_of(other).into_iter().collect(),
                    })
                    .unwrap_or_default();
                (text, cites)
            }
            _ => continue,
        };
        let text = text.trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let mut citations: BTreeSet<u32> = cites.into_iter().collect();
        citations.extend(citation_numbers(&text));
        out.push(Claim {
            claim: text,
            citations: citations.into_iter().collect(),
        });
    }
    Ok(out)
}

/// One verdict of the judge's answer on a batch of claims.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedVerdict {
    /// The claim's number in the batch, from 1.
    pub claim: u32,
    pub verdict: Verdict,
    pub evidence: String,
}

/// Verdicts from the judge's answer: `{"verdicts": [...]}` or a bare list;
/// the claim number as `claim`, `id`, `index` or `n`; the verdict under
/// `verdict`, `status` or `label`; evidence under `evidence` or `quote`.
/// Entries without a readable verdict are skipped (their claims count as
/// unsupported).
pub fn parse_verdicts(raw: &str) -> Result<Vec<ParsedVerdict>, String> {
    let list = list_in(raw, &["verdicts", "results"])?;
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let Value::Object(o) = item else { continue };
        let claim = ["claim", "id", "index", "n"]
            .iter()
            .find_map(|k| o.get(*k).and_then(number_of))
            .unwrap_or_else(|| u32::try_from(i + 1).unwrap_or(u32::MAX));
        let Some(verdict) = ["verdict", "status", "label"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .and_then(Verdict::parse)
        else {
            continue;
        };
        let evidence = ["evidence", "quote"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .trim()
            .to_owned();
        out.push(ParsedVerdict {
            claim,
            verdict,
            evidence,
        });
    }
    Ok(out)
}

/// The numbers of the `[n]` (and `[n, m]`) citations of a text, in order of
/// appearance, repeats kept. A markdown link's text (`[1](url)`) is not a
/// citation.
pub fn citation_numbers(text: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('[') {
        let start = i + off;
        let Some(len) = text[start..].find(']') else {
            break;
        };
        let inner = &text[start + 1..start + len];
        let after = bytes.get(start + len + 1).copied();
        let numbers: Option<Vec<u32>> = (!inner.trim().is_empty()
            && after != Some(b'(')
            && inner
                .chars()
                .all(|c| c.is_ascii_digit() || c == ',' || c == ' '))
        .then(|| {
            inner
                .split(',')
                .map(|n| n.trim().parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()
        })
        .flatten();
        if let Some(n) = numbers {
            out.extend(n);
        }
        i = start + 1;
    }
    out
}

/// The text without its `## Sources` (or `## References`) section: the
/// pipeline renders that list itself.
pub fn without_sources_list(markdown: &str) -> &str {
    let mut offset = 0;
    for line in markdown.split_inclusive('\n') {
        let heading = line
            .trim()
            .trim_start_matches('#')
            .trim()
            .to_ascii_lowercase();
        if line.trim_start().starts_with("## ")
            && matches!(heading.as_str(), "sources" | "references" | "bibliography")
        {
            return markdown[..offset].trim_end();
        }
        offset += line.len();
    }
    markdown.trim_end()
}

/// The sources list appended to an article: every research source, under
/// its number, as a link.
pub fn render_sources(sources: &[Source]) -> String {
    if sources.is_empty() {
        return String::new();
    }
    let mut out = format!("{SOURCES_HEADING}\n\n");
    for (i, s) in sources.iter().enumerate() {
        let title = s.title.replace(['[', ']'], "");
        let title = if title.trim().is_empty() {
            s.link.clone()
        } else {
            title
        };
        out.push_str(&format!("- [{}] [{}](<{}>)\n", i + 1, title.trim(), s.link));
    }
    out
}

/// The article as published: the model's text without any sources list of
/// its own, then the list rendered from the sources.
pub fn with_sources(markdown: &str, sources: &[Source]) -> String {
    let body = without_sources_list(markdown);
    let list = render_sources(sources);
    if list.is_empty() {
        body.to_owned()
    } else {
        format!("{body}\n\n{list}")
    }
}

/// Sentences of the prose (headings and code left out), each as plain text.
fn sentences(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    let mut skip = 0u32;
    for event in Parser::new(without_sources_list(markdown)) {
        match event {
            Event::Start(Tag::Heading { .. } | Tag::CodeBlock(_)) => skip += 1,
            Event::End(TagEnd::Heading(_) | TagEnd::CodeBlock) => skip = skip.saturating_sub(1),
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::TableCell) => {
                blocks.push(std::mem::take(&mut current));
            }
            Event::Text(t) | Event::Code(t) if skip == 0 => current.push_str(&t),
            Event::SoftBreak | Event::HardBreak if skip == 0 => current.push(' '),
            _ => {}
        }
    }
    blocks.push(current);
    let mut out = Vec::new();
    for block in blocks {
        let chars: Vec<char> = block.chars().collect();
        let mut start = 0;
        for i in 0..chars.len() {
            let end_mark = matches!(chars[i], '.' | '!' | '?');
            let next_space = chars.get(i + 1).is_none_or(|c| c.is_whitespace());
            // A citation may follow the full stop: "... in 2024. [3]" is
            // rare, "... in 2024 [3]." the rule; both stay in the sentence.
            if end_mark && next_space {
                let s: String = chars[start..=i].iter().collect();
                if !s.trim().is_empty() {
                    out.push(s.trim().to_owned());
                }
                start = i + 1;
            }
        }
        let rest: String = chars[start.min(chars.len())..].iter().collect();
        let rest = rest.trim();
        // A lone citation left after a full stop belongs to the sentence
        // before it.
        if !citation_numbers(rest).is_empty()
            && rest
                .trim_matches(|c: char| {
                    c == '[' || c == ']' || c.is_ascii_digit() || c == ',' || c == ' '
                })
                .is_empty()
        {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(rest);
            }
        } else if !rest.is_empty() {
            out.push(rest.to_owned());
        }
    }
    out
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Whether a sentence states a figure, a date, a percentage or a quotation:
/// the claims a reader would want a source for.
pub fn is_checkable(sentence: &str) -> bool {
    let mut bare = sentence.to_owned();
    // Citations themselves are not figures.
    while let Some(start) = bare.find('[') {
        match bare[start..].find(']') {
            Some(len) => bare.replace_range(start..=start + len, " "),
            None => break,
        }
    }
    let lower = bare.to_lowercase();
    let has_digit = bare.chars().any(|c| c.is_ascii_digit());
    let has_percent = bare.contains('%') || lower.contains("percent");
    let has_month = lower
        .split(|c: char| !c.is_alphabetic())
        .any(|w| MONTHS.contains(&w) && w != "may");
    let quoted = ['"', '“', '”', '«', '»']
        .iter()
        .map(|q| bare.matches(*q).count())
        .sum::<usize>()
        >= 2;
    has_digit || has_percent || has_month || quoted
}

/// Whether a kind of content carries citations (long-form text does; a
/// social post does not).
pub fn cites_sources(content_type: &str) -> bool {
    content_type != "social_media"
}

fn normalized(url: &str) -> String {
    let url = url.trim().trim_start_matches('<').trim_end_matches('>');
    let url = url.split('#').next().unwrap_or(url);
    url.trim_end_matches('/').to_ascii_lowercase()
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// Links of a markdown text, as written.
fn links(markdown: &str) -> Vec<String> {
    Parser::new(markdown)
        .filter_map(|e| match e {
            Event::Start(Tag::Link { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

/// The uncited sentences carrying a figure, date, percentage or quotation.
pub fn uncited_claims(markdown: &str) -> Vec<String> {
    sentences(markdown)
        .into_iter()
        .filter(|s| is_checkable(s) && citation_numbers(s).is_empty())
        .collect()
}

fn listed(items: &[String]) -> String {
    let shown: Vec<String> = items
        .iter()
        .take(5)
        .map(|s| format!("\"{}\"", s.chars().take(160).collect::<String>()))
        .collect();
    let more = items.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

/// The checks made in code on a draft's sources: every `[n]` is a source,
/// every absolute link is a source or on the allow-list, and (when there are
/// sources to cite) every sentence with a figure, date, percentage or
/// quotation cites one. A social post is not checked.
pub fn check_sources(
    content_type: &str,
    markdown: &str,
    sources: &[Source],
    allow_list: &[String],
) -> Vec<Check> {
    if !cites_sources(content_type) {
        return Vec::new();
    }
    let body = without_sources_list(markdown);
    let n = sources.len();
    let cited: BTreeSet<u32> = citation_numbers(body).into_iter().collect();
    let missing: Vec<String> = cited
        .iter()
        .filter(|c| **c == 0 || **c as usize > n)
        .map(|c| format!("[{c}]"))
        .collect();
    let citations = Check {
        name: "citations".into(),
        passed: missing.is_empty(),
        detail: if missing.is_empty() {
            format!("{} distinct sources cited of {n}", cited.len())
        } else if n == 0 {
            format!("cites {} but research found no sources", missing.join(", "))
        } else {
            format!(
                "cites {}, which {} not among the {n} sources: cite only [1] to [{n}]",
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" }
            )
        },
    };
    let known: BTreeSet<String> = sources.iter().map(|s| normalized(&s.link)).collect();
    let invented: Vec<String> = links(body)
        .into_iter()
        .filter(|l| {
            let l = l.trim();
            // Relative links and anchors point into this site.
            if !(l.starts_with("http://") || l.starts_with("https://") || l.starts_with("//")) {
                return false;
            }
            if known.contains(&normalized(l)) {
                return false;
            }
            let host = host_of(l).unwrap_or_default();
            !allow_list
                .iter()
                .any(|a| host == *a || host.ends_with(&format!(".{a}")))
        })
        .collect();
    let links = Check {
        name: "source_links".into(),
        passed: invented.is_empty(),
        detail: if invented.is_empty() {
            "every link is a source or allowed".into()
        } else {
            format!(
                "links that are not among the sources (remove them or use a source's exact URL): {}",
                invented.join(", ")
            )
        },
    };
    let uncited = uncited_claims(body);
    let claims = Check {
        name: "uncited_claims".into(),
        passed: n == 0 || uncited.is_empty(),
        detail: if uncited.is_empty() {
            "every figure, date and quotation cites a source".into()
        } else if n == 0 {
            format!(
                "no sources to cite (unsourced); sentences a reader would want a source for: {}",
                listed(&uncited)
            )
        } else {
            format!("cite a source as [n] or cut: {}", listed(&uncited))
        },
    };
    vec![citations, links, claims]
}

/// How a draft was grounded, as the queue and the review show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroundingState {
    /// Every claim was checked against its sources.
    Checked,
    /// There were no sources to check against: nothing was checked.
    Unsourced,
    /// A kind of content without citations (a social post).
    NotApplicable,
    /// The claims could not be extracted: nothing was checked.
    Failed,
}

/// How a post was made, as `GET /api/posts/{id_or_slug}` shows it: for a
/// post the pipeline wrote, the models, prompts, sources, support rate,
/// score and who approved it; for a post people wrote, `ai_assisted: false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Provenance {
    pub ai_assisted: bool,
    /// Every model that answered a call of the generation.
    #[serde(default)]
    pub models: Vec<String>,
    #[serde(default)]
    pub prompt_version: Option<String>,
    /// The research sources, numbered as the article cites them.
    #[serde(default)]
    pub sources: Vec<ProvenanceSource>,
    /// The share of the approved version's claims its sources support;
    /// `null` when nothing was checked.
    #[serde(default)]
    pub support_rate: Option<f64>,
    #[serde(default)]
    pub quality_score: Option<f64>,
    /// The approver's display name.
    #[serde(default)]
    pub reviewed_by: Option<String>,
    #[serde(default)]
    pub approved_at: Option<chrono::DateTime<chrono::Utc>>,
    /// A person changed the text after the pipeline checked it (the
    /// reviewer's edits, or a later edit of the post): the support rate
    /// and sources describe the version checked, not every word published.
    #[serde(default)]
    pub edited_after_check: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvenanceSource {
    pub n: u32,
    pub title: String,
    pub url: String,
}

impl Provenance {
    /// A post people wrote.
    pub fn human() -> Self {
        Self {
            ai_assisted: false,
            models: Vec::new(),
            prompt_version: None,
            sources: Vec::new(),
            support_rate: None,
            quality_score: None,
            reviewed_by: None,
            approved_at: None,
            edited_after_check: false,
        }
    }
}

/// Whether a reader sees a post's provenance: editors always, the public
/// unless `pipeline.public_provenance` is off.
pub fn provenance_visible(reads_drafts: bool, public_provenance: bool) -> bool {
    reads_drafts || public_provenance
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(n: usize) -> Vec<Source> {
        (1..=n)
            .map(|i| Source {
                title: format!("Source {i}"),
                link: format!("https://example.org/{i}"),
                snippet: String::new(),
                text: None,
                fetch_error: None,
            })
            .collect()
    }

    #[test]
    fn citations_are_numbers_in_brackets_not_link_texts() {
        assert_eq!(
            citation_numbers("A [1], B [2, 3] and [x] and [4](http://l) and [][5]"),
            vec![1, 2, 3, 5]
        );
        assert_eq!(citation_numbers("[12]."), vec![12]);
        assert!(citation_numbers("no citations [ ] here").is_empty());
    }

    #[test]
    fn a_citation_of_a_missing_source_fails() {
        let text = "Rust was released in 2015 [1]. It grew by 40% [3].";
        let checks = check_sources("blog_post", text, &src(2), &[]);
        let c = checks.iter().find(|c| c.name == "citations").unwrap();
        assert!(!c.passed);
        assert!(c.detail.contains("[3]"), "{}", c.detail);
        let ok = check_sources("blog_post", text, &src(3), &[]);
        assert!(ok.iter().all(|c| c.passed), "{ok:?}");
    }

    #[test]
    fn invented_links_fail_and_sources_and_the_allow_list_pass() {
        let text = "See [the guide](https://example.org/1/) and [docs](https://docs.rs/tokio) \
                    and [made up](https://invented.example.net/study) and [home](/posts/x).";
        let checks = check_sources("blog_post", text, &src(1), &["docs.rs".into()]);
        let c = checks.iter().find(|c| c.name == "source_links").unwrap();
        assert!(!c.passed);
        assert!(c.detail.contains("invented.example.net"), "{}", c.detail);
        assert!(!c.detail.contains("docs.rs"), "{}", c.detail);
        assert!(!c.detail.contains("example.org/1"), "{}", c.detail);
        let none = check_sources(
            "blog_post",
            text,
            &src(1),
            &["docs.rs".into(), "example.net".into()],
        );
        assert!(
            none.iter()
                .find(|c| c.name == "source_links")
                .unwrap()
                .passed
        );
    }

    #[test]
    fn uncited_figures_dates_percentages_and_quotes_are_listed() {
        let text = "# Title\n\n## 3 things\n\nIntro without facts. Adoption grew 40% last year. \
                    It shipped in March. He said \"it is fast\" on stage. Cited 12 times [1].\n\n\
                    - A list item from 2019\n\n```\nlet x = 42;\n```\n";
        let uncited = uncited_claims(text);
        assert_eq!(
            uncited,
            vec![
                "Adoption grew 40% last year.",
                "It shipped in March.",
                "He said \"it is fast\" on stage.",
                "A list item from 2019",
            ]
        );
        let checks = check_sources("blog_post", text, &src(1), &[]);
        let c = checks.iter().find(|c| c.name == "uncited_claims").unwrap();
        assert!(!c.passed);
        assert!(c.detail.contains("40%"), "{}", c.detail);
        // Without sources there is nothing to cite: listed, not failed.
        let unsourced = check_sources("blog_post", text, &[], &[]);
        let c = unsourced
            .iter()
            .find(|c| c.name == "uncited_claims")
            .unwrap();
        assert!(c.passed);
        assert!(c.detail.contains("unsourced"));
        assert!(check_sources("social_media", text, &[], &[]).is_empty());
    }

    #[test]
    fn a_citation_after_the_full_stop_stays_with_its_sentence() {
        assert!(uncited_claims("It grew 40% in 2024. [2]").is_empty());
    }

    #[test]
    fn the_sources_list_comes_from_the_sources_not_the_model() {
        let text = "# T\n\nBody [1].\n\n## Sources\n\n1. [Invented](https://invented.example)\n";
        let out = with_sources(text, &src(2));
        assert!(!out.contains("invented"), "{out}");
        assert!(
            out.contains("- [1] [Source 1](<https://example.org/1>)"),
            "{out}"
        );
        assert!(
            out.contains("- [2] [Source 2](<https://example.org/2>)"),
            "{out}"
        );
        assert!(out.starts_with("# T\n\nBody [1].\n\n## Sources"), "{out}");
        // The list's own links pass the link check.
        let checks = check_sources("blog_post", &out, &src(2), &[]);
        assert!(checks.iter().all(|c| c.passed), "{checks:?}");
        assert_eq!(with_sources("Body.\n", &[]), "Body.");
    }

    #[test]
    fn each_claim_takes_the_best_verdict_of_the_sources_it_cites() {
        use crate::generation::SourceVerdict;
        let claims = vec![
            Claim {
                claim: "a".into(),
                citations: vec![1, 2],
            },
            Claim {
                claim: "b".into(),
                citations: vec![],
            },
            Claim {
                claim: "c".into(),
                citations: vec![9],
            },
            Claim {
                claim: "d".into(),
                citations: vec![2],
            },
            Claim {
                claim: "e".into(),
                citations: vec![1, 1],
            },
        ];
        let b = batches(&claims, 2);
        assert_eq!(b.get(&1), Some(&vec![0, 4]));
        assert_eq!(b.get(&2), Some(&vec![0, 3]));
        assert_eq!(b.len(), 2);
        let v = |claim, verdict, evidence: &str| SourceVerdict {
            claim,
            verdict,
            evidence: evidence.into(),
        };
        let verdicts = [
            (
                1,
                vec![v(0, Verdict::Partly, "p"), v(4, Verdict::Supported, "e1")],
            ),
            (
                2,
                vec![
                    v(0, Verdict::Supported, "s"),
                    v(3, Verdict::Unsupported, ""),
                ],
            ),
        ]
        .into_iter()
        .collect();
        let out = assemble(&claims, 2, &verdicts);
        assert_eq!(
            (out[0].verdict, out[0].source, out[0].evidence.as_str()),
            (Verdict::Supported, Some(2), "s")
        );
        assert_eq!(
            (out[1].verdict, out[1].note.as_deref()),
            (Verdict::Unsupported, Some("cites no source"))
        );
        assert_eq!(out[2].verdict, Verdict::Unsupported);
        assert!(out[2].note.as_deref().unwrap().contains("[9]"));
        assert_eq!(
            (out[3].verdict, out[3].note.as_deref()),
            (Verdict::Unsupported, None)
        );
        assert_eq!(out[4].verdict, Verdict::Supported);
        assert_eq!(support_rate(&out), Some(0.4));
    }

    #[test]
    fn support_rate_weighs_partly_as_half() {
        let c = |v| CheckedClaim {
            claim: "c".into(),
            citations: vec![1],
            verdict: v,
            evidence: String::new(),
            source: Some(1),
            note: None,
        };
        let rate = support_rate(&[
            c(Verdict::Supported),
            c(Verdict::Partly),
            c(Verdict::Unsupported),
            c(Verdict::Supported),
        ]);
        assert_eq!(rate, Some(0.625));
        assert_eq!(support_rate(&[]), None);
        assert!(grounded(None, 0.8));
        assert!(grounded(Some(0.8), 0.8));
        assert!(!grounded(Some(0.79), 0.8));
    }

    #[test]
    fn claims_and_verdicts_are_read_as_models_write_them() {
        let claims = parse_claims(
            "Here you go:\n```json\n{\"claims\": [{\"claim\": \"Rust 1.0 shipped in 2015 [1]\", \"citations\": [\"1\"]},\
             {\"text\": \"It is fast.\", \"sources\": \"[2]\"}, {\"claim\": \"\"}, \"A bare claim [3]\"]}\n```",
        )
        .unwrap();
        assert_eq!(
            claims,
            vec![
                Claim {
                    claim: "Rust 1.0 shipped in 2015 [1]".into(),
                    citations: vec![1]
                },
                Claim {
                    claim: "It is fast.".into(),
                    citations: vec![2]
                },
                Claim {
                    claim: "A bare claim [3]".into(),
                    citations: vec![3]
                },
            ]
        );
        let v = parse_verdicts(
            "[{\"id\": \"2\", \"status\": \"Partially supported\", \"quote\": \"q\"},\
             {\"verdict\": \"NOT SUPPORTED\"}, {\"verdict\": \"maybe\"}]",
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                ParsedVerdict {
                    claim: 2,
                    verdict: Verdict::Partly,
                    evidence: "q".into()
                },
                ParsedVerdict {
                    claim: 2,
                    verdict: Verdict::Unsupported,
                    evidence: String::new()
                },
            ]
        );
        assert!(parse_claims("no json").is_err());
        assert!(parse_verdicts("{\"other\": 1}").is_err());
    }

    #[test]
    fn every_schema_requires_each_property_and_forbids_others() {
        fn strict(v: &Value) {
            if v["type"] == "object" {
                assert_eq!(v["additionalProperties"], false, "{v}");
                let props: BTreeSet<&String> =
                    v["properties"].as_object().unwrap().keys().collect();
                let req: BTreeSet<&String> = v["required"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| match r {
                        Value::String(s) => s,
                        _ => panic!("{r}"),
                    })
                    .collect();
                assert_eq!(props, req, "{v}");
                v["properties"]
                    .as_object()
                    .unwrap()
                    .values()
                    .for_each(strict);
            }
            if let Some(items) = v.get("items") {
                strict(items);
            }
        }
        for s in [
            critique_schema(),
            seo_schema(),
            claims_schema(),
            verdicts_schema(),
        ] {
            strict(&s.schema);
            assert!(s.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        assert_eq!(
            critique_schema().schema["required"]
                .as_array()
                .unwrap()
                .len(),
            9
        );
    }

    #[test]
    fn settings_are_read_within_range() {
        assert_eq!(support_threshold(Some(&json!(0.6))), 0.6);
        assert_eq!(
            support_threshold(Some(&json!(1.6))),
            DEFAULT_SUPPORT_THRESHOLD
        );
        assert_eq!(support_threshold(None), DEFAULT_SUPPORT_THRESHOLD);
        assert_eq!(
            link_allow_list(Some(&json!(["Docs.rs", "*.example.com"]))),
            vec!["docs.rs", "example.com"]
        );
        assert!(parse_link_allow_list(&json!(["docs.rs", 3])).is_err());
        assert!(parse_link_allow_list(&json!(["https://docs.rs/x"])).is_err());
        assert!(parse_support_threshold(&json!("high")).is_err());
    }
}
