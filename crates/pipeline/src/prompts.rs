//! Every prompt the pipeline sends, as versioned templates. The version is
//! stored on each result, so a draft can be traced to the words that asked
//! for it. Change a template: bump `VERSION`.

use presswork_domain::content::{Check, ContentSpec, Scores};
use presswork_domain::generation::GroundingStage;
use presswork_llm::Message;

use crate::integrations::Source;

pub const VERSION: &str = "2026-12-04.1";

fn brief(spec: &ContentSpec) -> String {
    let mut b = format!(
        "Topic: {}\nStyle: {}\nTone: {}\n",
        spec.topic, spec.style, spec.tone
    );
    if let Some(a) = &spec.target_audience {
        b.push_str(&format!("Audience: {a}\n"));
    }
    if let Some(k) = &spec.primary_keyword {
        b.push_str(&format!("Primary keyword (use it naturally): {k}\n"));
    }
    b
}

fn shape(spec: &ContentSpec) -> String {
    match spec.content_type.as_str() {
        "social_media" => {
            let p = spec.platform.as_deref().unwrap_or("twitter");
            let limit = presswork_domain::content::platform_limit(p).unwrap_or(280);
            format!(
                "Write one {p} post of at most {limit} characters. Plain text, no markdown headings."
            )
        }
        "email" => format!(
            "Write a marketing email of about {} words. Start with a line `Subject: …` and a line `Preview: …`, then the body in markdown.",
            spec.target_length
        ),
        "newsletter" => format!(
            "Write a newsletter issue of about {} words in markdown: a `# ` title and at least three `## ` sections.",
            spec.target_length
        ),
        _ => format!(
            "Write a blog article of about {} words in markdown: a `# ` title, an introduction, at least three `## ` sections, and a closing `## Conclusion` section.",
            spec.target_length
        ),
    }
}

fn sources_block(sources: &[Source]) -> String {
    if sources.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "\nResearch sources, numbered. Cite a source right after the sentence that uses it, as [n] (for example [2]), with these numbers only. \
Every figure, date, percentage or quotation must cite the source it comes from; leave out what no source supports. \
Link only to these URLs, and do not write a sources list: it is added from these sources.\n",
    );
    for (i, src) in sources.iter().enumerate() {
        s.push_str(&format!(
            "[{}] {} — {}\n    {}\n",
            i + 1,
            src.title,
            src.link,
            src.snippet
        ));
    }
    s
}

const WRITER: &str = "You are a senior writer. You write accurate, well-structured, engaging text. Never leave placeholders such as [insert ...] or TODO. Answer with the text only.";

pub fn draft(spec: &ContentSpec, sources: &[Source]) -> Vec<Message> {
    vec![
        Message::system(WRITER),
        Message::user(format!(
            "{}\n{}{}",
            shape(spec),
            brief(spec),
            sources_block(sources)
        )),
    ]
}

pub fn revise(
    spec: &ContentSpec,
    current: &str,
    feedback: &str,
    sources: &[Source],
) -> Vec<Message> {
    vec![
        Message::system(WRITER),
        Message::user(format!(
            "{}\n{}{}\nRewrite the text below. Address every point of this feedback:\n{}\n\n--- TEXT ---\n{}",
            shape(spec),
            brief(spec),
            sources_block(sources),
            feedback,
            current
        )),
    ]
}

/// The feedback for a rewrite: the judge's, each failed check, then each
/// claim its sources do not support.
pub fn feedback_of(
    scores: Option<&Scores>,
    checks: &[Check],
    grounding: Option<&GroundingStage>,
) -> String {
    let mut f = String::new();
    if let Some(s) = scores {
        f.push_str(&s.feedback);
        f.push('\n');
    }
    if let Some(g) = grounding.filter(|g| !g.passed) {
        f.push_str("These claims are not supported by the sources they cite. Make each say only what its source says, cite the right source, or cut it:\n");
        for c in g.unsupported() {
            let why = c.note.clone().unwrap_or_else(|| {
                if c.evidence.is_empty() {
                    format!("{:?}", c.verdict).to_lowercase()
                } else {
                    format!("the source says: \"{}\"", c.evidence)
                }
            });
            f.push_str(&format!("- \"{}\" ({why})\n", c.claim));
        }
    }
    for c in checks.iter().filter(|c| !c.passed) {
        f.push_str(&format!(
            "- Fix: {} ({})\n",
            c.name.replace('_', " "),
            c.detail
        ));
    }
    f
}

pub fn critique(spec: &ContentSpec, text: &str) -> Vec<Message> {
    vec![
        Message::system(
            "You are a demanding editor. Judge the text against the brief. Answer with one JSON object and nothing else: \
{\"clarity\": n, \"accuracy\": n, \"completeness\": n, \"relevance\": n, \"seo_quality\": n, \"readability\": n, \"engagement\": n, \"overall\": n, \"feedback\": \"concrete changes to make\"} \
where each n is a number from 0 to 10.",
        ),
        Message::user(format!(
            "{}\n{}\n--- TEXT ---\n{}",
            shape(spec),
            brief(spec),
            text
        )),
    ]
}

/// Claim extraction: the checkable factual claims with their citations.
pub fn claims(text: &str) -> Vec<Message> {
    vec![
        Message::system(
            "You extract the checkable factual claims of a text: statements of fact, figures, dates, percentages, quotations and attributions, not opinions or advice. \
Write each as one self-contained sentence and list the numbers of the [n] citations it carries (an empty list when it has none). \
Answer with one JSON object and nothing else: {\"claims\": [{\"claim\": \"...\", \"citations\": [1]}]}.",
        ),
        Message::user(format!("--- TEXT ---\n{text}")),
    ]
}

/// One source's verdict on the claims that cite it.
pub fn verify(number: u32, source: &Source, claims: &[(usize, &str)]) -> Vec<Message> {
    let (body, what) = match &source.text {
        Some(t) => (t.as_str(), "the page's text"),
        None => (
            source.snippet.as_str(),
            "only the search snippet (the page could not be read)",
        ),
    };
    let mut list = String::new();
    for (i, (_, claim)) in claims.iter().enumerate() {
        list.push_str(&format!("{}. {claim}\n", i + 1));
    }
    vec![
        Message::system(
            "You are a fact-checker. For each numbered claim, decide from the source alone whether it is supported (the source states it), partly (the source states some of it, or something close), or unsupported (the source does not state it, or contradicts it). \
Quote the source's deciding words exactly as evidence, or leave evidence empty when there are none. \
Answer with one JSON object and nothing else: {\"verdicts\": [{\"claim\": 1, \"verdict\": \"supported\", \"evidence\": \"...\"}]}.",
        ),
        Message::user(format!(
            "Source [{number}]: {} — {}\nBelow is {what}.\n--- SOURCE ---\n{body}\n--- CLAIMS ---\n{list}",
            source.title, source.link
        )),
    ]
}

pub fn seo(spec: &ContentSpec, text: &str) -> Vec<Message> {
    vec![
        Message::system(
            "You are an SEO editor. Answer with one JSON object and nothing else: \
{\"title\": \"at most 60 characters\", \"meta_description\": \"at most 160 characters\", \"keywords\": [\"5 to 7 keywords\"], \"slug\": \"lower-case-words\", \"excerpt\": \"one or two sentences\"}.",
        ),
        Message::user(format!("{}\n--- ARTICLE ---\n{}", brief(spec), text)),
    ]
}

/// The subject of a post promoting a published article.
pub fn promote(title: &str, slug: &str, excerpt: &str) -> String {
    format!("Promote this article: \"{title}\" (/posts/{slug}). {excerpt}")
}

/// One social media post of at most `max` characters about `subject`.
pub fn social(
    platform: &str,
    tone: &str,
    max: usize,
    hashtags: bool,
    emojis: bool,
    subject: &str,
) -> presswork_llm::ChatRequest {
    let mut rules = format!("at most {max} characters in total, a {tone} tone");
    rules.push_str(if hashtags {
        ", with 2 or 3 relevant hashtags at the end"
    } else {
        ", no hashtags"
    });
    rules.push_str(if emojis {
        ", a few fitting emojis"
    } else {
        ", no emojis"
    });
    presswork_llm::ChatRequest {
        messages: vec![
            Message::system("You write social media posts. Answer with the post text only."),
            Message::user(format!("Write one {platform} post: {rules}.\n\n{subject}")),
        ],
        max_tokens: Some(u32::try_from(max / 2).unwrap_or(2000).clamp(100, 2000)),
        temperature: Some(0.8),
        ..Default::default()
    }
}

/// The chat assistant's system prompt.
pub const CHAT_SYSTEM: &str = "You are Presswork's writing assistant: helpful, precise and brief.";
