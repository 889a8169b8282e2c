//! Markdown to safe HTML: pulldown-cmark renders, ammonia sanitises (no
//! script, no event handlers, no `javascript:` links, `rel="noopener
//! noreferrer"` on links). Raw HTML in the markdown is passed to ammonia,
//! which keeps only its safe subset.

use pulldown_cmark::{Options, Parser, html};

pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES;
    let mut unsafe_html = String::with_capacity(markdown.len() * 5 / 4);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::clean(&unsafe_html)
}

/// Words in markdown text, counting only the prose (not the syntax).
pub fn word_count(markdown: &str) -> usize {
    markdown
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn renders_markdown() {
        let html = render("# Title\n\nSome *emphasis* and a [link](https://example.com).");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<em>emphasis</em>"));
        assert!(
            html.contains(r#"<a href="https://example.com" rel="noopener noreferrer">link</a>"#),
            "{html}"
        );
    }

    #[test]
    fn hostile_input_comes_out_inert() {
        let html = render(
            "<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n\
             <a href=\"javascript:alert(1)\">y</a>\n\n<iframe src=\"https://evil\"></iframe>\n\n<div style=\"x\" onclick=\"a()\">d</div>",
        );
        let lower = html.to_lowercase();
        for bad in [
            "<script",
            "javascript:",
            "onerror",
            "onclick",
            "<iframe",
            "style=",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {html}");
        }
    }

    proptest! {
        #[test]
        fn never_emits_scripts_or_handlers(s in ".{0,200}", payload in prop::sample::select(vec![
            "<script>x</script>", "<img src=a onerror=b>", "[l](javascript:x)", "<svg onload=x>", "<a href='JaVaScRiPt:x'>a</a>",
        ])) {
            let html = render(&format!("{s}{payload}{s}")).to_lowercase();
            prop_assert!(!html.contains("<script"));
            // Escaped text may mention anything; tags must not carry it.
            for tag in tags(&html) {
                prop_assert!(!tag.contains("onerror") && !tag.contains("onload"), "{tag}");
                prop_assert!(!tag.contains("javascript:"), "{tag}");
            }
        }
    }

    /// The markup of each tag (`<...>`) in some HTML.
    fn tags(html: &str) -> Vec<&str> {
        html.split('<')
            .skip(1)
            .filter_map(|rest| rest.split_once('>').map(|(tag, _)| tag))
            .collect()
    }

    #[test]
    fn counts_words() {
        assert_eq!(word_count("# Hello world\n\n- one\n- two ---"), 4);
    }
}
