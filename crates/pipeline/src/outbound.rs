//! Requests to addresses someone else chose — webhook targets, the pages
//! research found — behind one SSRF guard: the host is resolved first, a
//! private, loopback or link-local address is refused unless configured
//! otherwise, and the request is pinned to the vetted address (no second DNS
//! answer). Redirects are followed by hand, each hop vetted the same way.

use std::net::SocketAddr;
use std::time::Duration;

use presswork_domain::net::is_internal;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// The address can never be reached: not a URL, no host, an internal
    /// address.
    #[error("{0}")]
    Refused(String),
    /// Worth trying again later: DNS, the network, the other end.
    #[error("{0}")]
    Unavailable(String),
}

/// Resolves `url`'s host and returns the address to connect to.
pub async fn vet(url: &url::Url, allow_private: bool) -> Result<SocketAddr, OutboundError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundError::Refused(format!(
            "{}: only http and https are fetched",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| OutboundError::Refused("the URL has no host".into()))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| OutboundError::Unavailable(format!("cannot resolve {host}: {e}")))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| OutboundError::Unavailable(format!("{host} has no address")))?;
    if !allow_private && addrs.iter().any(|a| is_internal(a.ip())) {
        return Err(OutboundError::Refused(format!(
            "refused: {host} resolves to a private or loopback address"
        )));
    }
    Ok(first)
}

/// A client that reaches `url`'s host only at `addr`, follows no redirect
/// by itself and gives up after `timeout`.
pub fn pinned_client(
    url: &url::Url,
    addr: SocketAddr,
    timeout: Duration,
    user_agent: &str,
) -> Result<reqwest::Client, OutboundError> {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .redirect(reqwest::redirect::Policy::none())
        .resolve(&host, addr)
        .user_agent(user_agent)
        .build()
        .map_err(|e| OutboundError::Unavailable(e.to_string()))
}

/// Fetches research pages and reduces them to readable text.
#[derive(Debug, Clone)]
pub struct PageFetcher {
    pub allow_private: bool,
    pub timeout: Duration,
    /// The most bytes of a page read; the rest is not downloaded.
    pub max_bytes: usize,
    /// The most characters of text kept per page.
    pub max_chars: usize,
}

impl Default for PageFetcher {
    fn default() -> Self {
        Self {
            allow_private: false,
            timeout: Duration::from_secs(10),
            max_bytes: 2 * 1024 * 1024,
            max_chars: 20_000,
        }
    }
}

const USER_AGENT: &str = concat!("presswork-research/", env!("CARGO_PKG_VERSION"));
const MAX_REDIRECTS: usize = 3;

impl PageFetcher {
    /// The page's readable text: HTML reduced to text by html2text, plain
    /// text as it is; anything else is refused.
    pub async fn fetch(&self, link: &str) -> Result<String, OutboundError> {
        let mut url =
            url::Url::parse(link).map_err(|e| OutboundError::Refused(format!("not a URL: {e}")))?;
        let started = tokio::time::Instant::now();
        for _hop in 0..=MAX_REDIRECTS {
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(OutboundError::Unavailable(format!(
                    "no answer within {} s",
                    self.timeout.as_secs()
                )));
            }
            let addr = vet(&url, self.allow_private).await?;
            let client = pinned_client(&url, addr, left, USER_AGENT)?;
            let mut res = client
                .get(url.clone())
                .header(
                    "Accept",
                    "text/html, application/xhtml+xml, text/plain;q=0.9",
                )
                .send()
                .await
                .map_err(|e| {
                    OutboundError::Unavailable(if e.is_timeout() {
                        format!("no answer within {} s", self.timeout.as_secs())
                    } else {
                        "the page could not be reached".into()
                    })
                })?;
            if res.status().is_redirection() {
                let to = res
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .ok_or_else(|| {
                        OutboundError::Unavailable("a redirect without a Location".into())
                    })?;
                url = url
                    .join(to)
                    .map_err(|e| OutboundError::Refused(format!("a bad redirect: {e}")))?;
                continue;
            }
            if !res.status().is_success() {
                return Err(OutboundError::Unavailable(format!(
                    "the page answered HTTP {}",
                    res.status().as_u16()
                )));
            }
            let kind = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/html")
                .to_ascii_lowercase();
            let html = kind.contains("html");
            if !html && !kind.starts_with("text/plain") {
                return Err(OutboundError::Refused(format!(
                    "not a text page ({})",
                    kind.split(';').next().unwrap_or_default()
                )));
            }
            let mut body = Vec::new();
            loop {
                let chunk = res.chunk().await.map_err(|_| {
                    OutboundError::Unavailable("the connection broke while reading the page".into())
                })?;
                let Some(chunk) = chunk else { break };
                let room = self.max_bytes.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= self.max_bytes {
                    break;
                }
            }
            let text = if html {
                html2text::config::plain_no_decorate()
                    .raw_mode(true)
                    .string_from_read(&body[..], 200)
                    .map_err(|e| OutboundError::Refused(format!("unreadable HTML: {e}")))?
            } else {
                String::from_utf8_lossy(&body).into_owned()
            };
            return Ok(tidy(&text, self.max_chars));
        }
        Err(OutboundError::Unavailable(format!(
            "more than {MAX_REDIRECTS} redirects"
        )))
    }
}

/// Lines trimmed, runs of blank lines made one, at most `max` characters
/// (cut at a character boundary).
fn tidy(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut blank = true;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        blank = false;
    }
    match out.char_indices().nth(max) {
        Some((i, _)) => out[..i].to_owned(),
        None => out.trim_end().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn tidy_collapses_blank_lines_and_cuts_at_a_character() {
        assert_eq!(tidy("  a \n\n\n b\n", 100), "a\n\nb");
        assert_eq!(tidy("ééé", 2), "éé");
    }
}
