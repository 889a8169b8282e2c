//! Test and benchmark support (feature `testing`): a local server speaking
//! OpenAI's chat-completions format that plays every pipeline role — writer,
//! judge, SEO editor — from the prompts it receives, so pipeline tests run
//! the real router and HTTP client. Scripts make the judge fail, answer
//! malformed JSON, or make every call fail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// What the fake does, changeable while it runs.
#[derive(Debug, Default)]
pub struct Script {
    /// Answers for the next judge calls, in order; when empty the judge
    /// passes with 8.5.
    pub judge: VecDeque<String>,
    /// Answers for the next claim extractions, in order; when empty the
    /// claims are the text's sentences that cite a source.
    pub claims: VecDeque<String>,
    /// Answers for the next fact-checks, in order; when empty every claim
    /// is supported, with the source's first line as evidence.
    pub verdicts: VecDeque<String>,
    /// Every call answers 500.
    pub fail_all: bool,
    /// Calls of this stage after the first n answer 500 (a provider that
    /// goes down mid-run).
    pub fail_from: Option<(&'static str, usize)>,
    /// Calls received per stage.
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    /// Words to write when the prompt gives no length.
    pub words: Option<usize>,
    /// What the social writer answers (default: a short post with hashtags).
    pub social: Option<String>,
    /// Answers for this stage (`"*"`: every stage) wait this long (to catch a
    /// run mid-way, or to play a provider that hangs).
    pub delay: Option<(&'static str, std::time::Duration)>,
    /// Answers for this stage after its first n wait this long (to catch
    /// a run at a later topic's call).
    pub delay_from: Option<(&'static str, usize, std::time::Duration)>,
}

/// A judge answer with every score set to `overall`.
pub fn judge_json(overall: f64, feedback: &str) -> String {
    json!({"clarity": overall, "accuracy": overall, "completeness": overall, "relevance": overall,
           "seo_quality": overall, "readability": overall, "engagement": overall,
           "overall": overall, "feedback": feedback})
    .to_string()
}

/// A fact-checker's answer for one source with one claim: its verdict
/// (`supported`, `partly`, `unsupported`) and the quoted evidence.
pub fn verdict_json(claim: usize, verdict: &str, evidence: &str) -> String {
    json!({"verdicts": [{"claim": claim, "verdict": verdict, "evidence": evidence}]}).to_string()
}

#[derive(Clone)]
struct Fake(Arc<Mutex<Script>>);

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let rest = &s[i..];
    Some(rest[..rest.find(end).unwrap_or(rest.len())].trim())
}

/// The stage a prompt is for, from the pipeline's templates.
pub fn stage_of(system: &str, user: &str) -> &'static str {
    if system.contains("social media posts") {
        "social"
    } else if system.contains("extract the checkable factual claims") {
        "claims"
    } else if system.contains("You are a fact-checker") {
        "verify"
    } else if system.contains("demanding editor") {
        "critique"
    } else if system.contains("SEO editor") {
        "seo"
    } else if user.contains("Rewrite the text below") {
        "refine"
    } else {
        "draft"
    }
}

/// Sentences a technical article might hold, so drafts (and the screenshots
/// made from them) read like writing; each is ten words or so.
const SENTENCES: [&str; 12] = [
    "Most teams notice the problem only when traffic doubles overnight.",
    "The first step is to measure what actually happens today.",
    "A small change in the default settings often matters most.",
    "Readers rarely see the work, but they feel the difference.",
    "Start with the path that serves the most requests.",
    "Keep the old behaviour behind a flag until you trust it.",
    "Every extra round trip costs time on a slow connection.",
    "Write down what you measured, so the next person can repeat it.",
    "The simplest design that meets the target is usually the right one.",
    "When something fails, the logs should say why in one line.",
    "Small, reversible steps beat one large rewrite almost every time.",
    "Check the result again a week later, under real load.",
];

/// About `words` words of prose, starting at sentence `from`.
fn prose(words: usize, from: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut i = from;
    while count < words {
        let s = SENTENCES[i % SENTENCES.len()];
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(s);
        count += s.split_whitespace().count();
        i += 1;
    }
    out
}

fn article(user: &str, words: usize, revision: bool) -> String {
    let topic = between(user, "Topic:", "\n").unwrap_or("a topic");
    let keyword = between(user, "Primary keyword (use it naturally):", "\n").unwrap_or(topic);
    if user.contains(" post of at most ") {
        return format!(
            "{topic}: what {keyword} changes for you, in one minute. #{}",
            keyword.replace(' ', "")
        );
    }
    if user.contains("Start with a line `Subject:") {
        return format!(
            "Subject: {topic}\nPreview: the short version of {keyword}\n\nHello,\n\n{} about {keyword}.\n\nThanks for reading.",
            prose(words.saturating_sub(12), 0)
        );
    }
    let links: Vec<&str> = user
        .split_whitespace()
        .filter(|w| w.starts_with("http://") || w.starts_with("https://"))
        .collect();
    let mut text = format!("# {topic}\n\nThis guide explains {keyword} for busy readers.");
    if revision {
        text.push_str(" Revised with the editor's feedback.");
    }
    text.push_str("\n\n");
    let sections = [
        "Why it matters",
        "How it works",
        "In practice",
        "Conclusion",
    ];
    let per = words.saturating_sub(20) / sections.len();
    for (i, s) in sections.iter().enumerate() {
        text.push_str(&format!("## {s}\n\n"));
        if let Some(l) = links.get(i) {
            text.push_str(&format!(
                "See [this source]({l}). In 2024, {p}% of teams reported faster pages [{n}]. ",
                n = i + 1,
                p = 40 + i
            ));
        }
        text.push_str(&prose(per, i * 3));
        text.push_str(&format!(" That is the short version of {keyword}.\n\n"));
    }
    text
}

fn completion(content: &str, model: &str) -> Value {
    json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_700_000_000u64, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 480, "total_tokens": 600}
    })
}

/// The fake's answer to one chat request body, and the stage it was for.
fn answer(script: &mut Script, body: &Value) -> Result<(String, &'static str), ()> {
    if script.fail_all {
        return Err(());
    }
    let msg = |role: &str| {
        body["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|x| x["role"] == role))
            .and_then(|x| x["content"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    let (system, user) = (msg("system"), msg("user"));
    let words = between(&user, "about ", " words")
        .and_then(|n| n.parse().ok())
        .or(script.words)
        .unwrap_or(300);
    let stage = stage_of(&system, &user);
    let seen = script.counts.entry(stage).or_default();
    *seen += 1;
    if script
        .fail_from
        .is_some_and(|(s, n)| s == stage && *seen > n)
    {
        return Err(());
    }
    let content = match stage {
        "critique" => script
            .judge
            .pop_front()
            .unwrap_or_else(|| judge_json(8.5, "Solid; tighten the introduction.")),
        "seo" => json!({
            "title": "A practical guide", "meta_description": "What it is, why it matters and how to start.",
            "keywords": ["guide", "practice", "how to", "basics", "examples"],
            "slug": "a-practical-guide", "excerpt": "What it is, why it matters and how to start."
        })
        .to_string(),
        "refine" => article(&user, words, true),
        "claims" => script.claims.pop_front().unwrap_or_else(|| {
            let text = user.split("--- TEXT ---").nth(1).unwrap_or_default();
            let claims: Vec<Value> = text
                .split(". ")
                .filter_map(|s| {
                    let cites = presswork_domain::grounding::citation_numbers(s);
                    (!cites.is_empty()).then(|| json!({"claim": s.trim(), "citations": cites}))
                })
                .collect();
            json!({"claims": claims}).to_string()
        }),
        "verify" => script.verdicts.pop_front().unwrap_or_else(|| {
            let source = between(&user, "--- SOURCE ---", "--- CLAIMS ---").unwrap_or_default();
            let evidence = source.lines().next().unwrap_or_default();
            let n = user
                .split("--- CLAIMS ---")
                .nth(1)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .count();
            let verdicts: Vec<Value> = (1..=n)
                .map(|i| json!({"claim": i, "verdict": "supported", "evidence": evidence}))
                .collect();
            json!({"verdicts": verdicts}).to_string()
        }),
        "social" => script.social.clone().unwrap_or_else(|| {
            "Fewer round trips, happier readers: cache your HTTP responses. #http #caching".to_owned()
        }),
        _ => article(&user, words, false),
    };
    Ok((content, stage))
}

impl Respond for Fake {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut script = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let model = body["model"].as_str().unwrap_or("fake-model").to_owned();
        match answer(&mut script, &body) {
            Err(()) => ResponseTemplate::new(500).set_body_json(
                json!({"error": {"message": "the fake is down", "type": "server_error"}}),
            ),
            Ok((content, stage)) => {
                let res = ResponseTemplate::new(200).set_body_json(completion(&content, &model));
                let seen = script.counts.get(stage).copied().unwrap_or(0);
                let late = script
                    .delay_from
                    .filter(|(s, n, _)| *s == stage && seen > *n)
                    .map(|(_, _, d)| d);
                match script
                    .delay
                    .filter(|(s, _)| *s == "*" || *s == stage)
                    .map(|(_, d)| d)
                    .or(late)
                {
                    Some(d) => res.set_delay(d),
                    None => res,
                }
            }
        }
    }
}

/// The same roles without HTTP: an instant [`Provider`] for measuring what
/// the pipeline itself costs.
#[derive(Default)]
pub struct FakeProvider {
    pub script: Arc<Mutex<Script>>,
}

impl presswork_llm::Provider for FakeProvider {
    fn name(&self) -> &str {
        "fake"
    }
    fn default_model(&self) -> &str {
        "fake-model"
    }
    fn chat<'a>(
        &'a self,
        req: &'a presswork_llm::ChatRequest,
    ) -> presswork_llm::BoxFuture<'a, Result<presswork_llm::ChatResponse, presswork_llm::LlmError>>
    {
        Box::pin(async move {
            let body = json!({"messages": req.messages});
            let mut script = self
                .script
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let (text, _) =
                answer(&mut script, &body).map_err(|()| presswork_llm::LlmError::Server {
                    provider: "fake".into(),
                    status: 500,
                    message: "the fake is down".into(),
                })?;
            Ok(presswork_llm::ChatResponse {
                text,
                provider: "fake".into(),
                model: "fake-model".into(),
                usage: presswork_llm::Usage {
                    input_tokens: 120,
                    output_tokens: 480,
                },
                latency: std::time::Duration::ZERO,
                cost_usd: None,
            })
        })
    }
    fn chat_stream<'a>(
        &'a self,
        _req: &'a presswork_llm::ChatRequest,
    ) -> presswork_llm::BoxFuture<'a, Result<presswork_llm::DeltaStream, presswork_llm::LlmError>>
    {
        Box::pin(async {
            Err(presswork_llm::LlmError::NotConfigured(
                "fake streaming".into(),
            ))
        })
    }
    fn list_models<'a>(
        &'a self,
    ) -> presswork_llm::BoxFuture<
        'a,
        Result<Vec<presswork_llm::types::ModelInfo>, presswork_llm::LlmError>,
    > {
        Box::pin(async { Ok(vec![presswork_llm::types::ModelInfo::named("fake-model")]) })
    }
}

/// The same roles in Ollama's native format (`POST /api/chat`, one JSON object).
#[derive(Clone)]
struct FakeOllama(Arc<Mutex<Script>>);

impl Respond for FakeOllama {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut script = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let model = body["model"].as_str().unwrap_or("llama3.2").to_owned();
        match answer(&mut script, &body) {
            Err(()) => {
                ResponseTemplate::new(500).set_body_json(json!({"error": "the fake is down"}))
            }
            Ok((content, _)) => ResponseTemplate::new(200).set_body_json(json!({
                "model": model, "created_at": "2026-11-26T00:00:00Z",
                "message": {"role": "assistant", "content": content},
                "done": true, "done_reason": "stop", "prompt_eval_count": 120, "eval_count": 480
            })),
        }
    }
}

pub struct FakeLlm {
    pub server: MockServer,
    pub script: Arc<Mutex<Script>>,
}

impl FakeLlm {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let script = Arc::new(Mutex::new(Script::default()));
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(Fake(script.clone()))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/api/chat"))
            .respond_with(FakeOllama(script.clone()))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/tags"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"models": [{"name": "llama3.2:latest"}]})),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 1, "owned_by": "fake"}]}),
            ))
            .mount(&server)
            .await;
        Self { server, script }
    }

    /// The OpenAI base URL to configure (`OPENAI_BASE_URL`).
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.uri())
    }

    pub fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The chat calls it received (OpenAI's and Ollama's paths).
    async fn chat_calls(&self) -> Vec<wiremock::Request> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == "/v1/chat/completions" || r.url.path() == "/api/chat")
            .collect()
    }

    /// The user prompts of the calls each stage received, in order.
    pub async fn prompts(&self, stage: &str) -> Vec<String> {
        self.chat_calls()
            .await
            .iter()
            .filter_map(|r| {
                let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
                let msg = |role: &str| {
                    body["messages"]
                        .as_array()
                        .and_then(|m| m.iter().find(|x| x["role"] == role))
                        .and_then(|x| x["content"].as_str())
                        .unwrap_or("")
                        .to_owned()
                };
                (stage_of(&msg("system"), &msg("user")) == stage).then(|| msg("user"))
            })
            .collect()
    }

    /// How many chat calls it received in all.
    pub async fn chat_requests(&self) -> usize {
        self.chat_calls().await.len()
    }

    /// How many chat calls each stage received.
    pub async fn calls(&self, stage: &str) -> usize {
        self.prompts(stage).await.len()
    }
}

/// Fake Serper (`POST /search`) and Pexels (`GET /v1/search`) answering in
/// their documented formats.
pub async fn fake_serper_and_pexels() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "searchParameters": {"q": "query", "type": "search", "engine": "google"},
            "organic": [
                {"title": "Official guide", "link": "https://example.org/guide", "snippet": "The reference.", "position": 1},
                {"title": "A deep dive", "link": "https://example.com/deep-dive", "snippet": "Details.", "position": 2},
                {"title": "Not a web link", "link": "ftp://example.net/file", "snippet": "", "position": 3}
            ]
        })))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total_results": 1, "page": 1, "per_page": 5,
            "photos": [{"id": 2014422, "width": 3024, "height": 3024,
                "url": "https://www.pexels.com/photo/brown-rocks-2014422/",
                "photographer": "Joey Farina", "photographer_url": "https://www.pexels.com/@joey",
                "photographer_id": 680589, "avg_color": "#978E82",
                "src": {"original": "https://images.pexels.com/photos/2014422/a.jpeg",
                        "large2x": "https://images.pexels.com/photos/2014422/a.jpeg?w=1880",
                        "large": "https://images.pexels.com/photos/2014422/a.jpeg?h=650"},
                "liked": false, "alt": "Brown rocks during golden hour"}]
        })))
        .mount(&s)
        .await;
    s
}
