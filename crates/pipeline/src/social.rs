//! Writing a social media post for one platform: the subject (a topic, or a
//! published post to promote), the prompt (versioned with the pipeline's,
//! `prompts::social`), one retry with a tighter limit when the model runs
//! over, and a cut at a word boundary as the last resort.

use presswork_db::AsyncPgConnection;
use presswork_db::cms::{self, PostKey, Visibility};
use presswork_domain::DomainError;
use presswork_domain::content::{TONES, cut_words, platform_limit};
use presswork_llm::LlmError;
use presswork_llm::router::Router;
use presswork_llm::types::Usage;
use uuid::Uuid;

use crate::prompts;

#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("no such published post")]
    NoSuchPost,
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Db(#[from] presswork_db::QueryError),
}

/// What to write about and how.
#[derive(Debug, Clone)]
pub struct SocialBrief {
    pub platform: String,
    pub tone: String,
    pub topic: Option<String>,
    /// A published post to promote (wins over `topic`).
    pub post_id: Option<Uuid>,
    pub include_hashtags: bool,
    pub include_emojis: bool,
}

/// The post, within the platform's limit.
#[derive(Debug, Clone)]
pub struct SocialDraft {
    pub text: String,
    pub max_length: usize,
    pub hashtags: Vec<String>,
    /// The model was over the limit twice and the text was cut at a word.
    pub truncated: bool,
    pub provider: String,
    pub model: String,
    /// Both calls' tokens when there was a retry.
    pub usage: Usage,
}

/// The platform's length limit, or the error naming the platforms.
pub fn limit_of(platform: &str) -> Result<usize, DomainError> {
    platform_limit(platform).ok_or_else(|| {
        let names: Vec<&str> = presswork_domain::content::PLATFORMS
            .iter()
            .map(|(n, _)| *n)
            .collect();
        DomainError::new("platform", format!("must be one of {}", names.join(", ")))
    })
}

async fn subject(conn: &mut AsyncPgConnection, b: &SocialBrief) -> Result<String, SocialError> {
    match (&b.topic, b.post_id) {
        (_, Some(id)) => {
            let post = cms::get_post(conn, &PostKey::Id(id), Visibility::Public)
                .await?
                .ok_or(SocialError::NoSuchPost)?;
            Ok(prompts::promote(
                &post.post.title,
                &post.post.slug,
                post.post.excerpt.as_deref().unwrap_or_default(),
            ))
        }
        (Some(t), None) if (3..=500).contains(&t.trim().chars().count()) => Ok(t.trim().to_owned()),
        (Some(_), None) => Err(DomainError::new("topic", "3 to 500 characters").into()),
        (None, None) => Err(DomainError::new("topic", "give a topic or a post_id").into()),
    }
}

/// Writes the post (see the module's documentation).
pub async fn write(
    conn: &mut AsyncPgConnection,
    router: &Router,
    b: &SocialBrief,
) -> Result<SocialDraft, SocialError> {
    let limit = limit_of(&b.platform)?;
    if !TONES.contains(&b.tone.as_str()) {
        return Err(
            DomainError::new("tone", format!("must be one of {}", TONES.join(", "))).into(),
        );
    }
    let subject = subject(conn, b).await?;
    let ask = |max: usize| {
        prompts::social(
            &b.platform,
            &b.tone,
            max,
            b.include_hashtags,
            b.include_emojis,
            &subject,
        )
    };
    let route = router.route_for_stage("social");
    let mut res = router.chat_routed(&ask(limit), &route).await?;
    let mut usage = res.usage;
    if res.text.trim().chars().count() > limit {
        res = router.chat_routed(&ask(limit * 8 / 10), &route).await?;
        usage.input_tokens += res.usage.input_tokens;
        usage.output_tokens += res.usage.output_tokens;
    }
    let mut text = res.text.trim().trim_matches('"').trim().to_owned();
    let truncated = text.chars().count() > limit;
    if truncated {
        text = cut_words(&text, limit);
    }
    let hashtags = text
        .split_whitespace()
        .filter(|w| w.starts_with('#') && w.len() > 1)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_owned()
        })
        .collect();
    Ok(SocialDraft {
        text,
        max_length: limit,
        hashtags,
        truncated,
        provider: res.provider,
        model: res.model,
        usage,
    })
}
