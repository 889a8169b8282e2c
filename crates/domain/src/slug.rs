use std::fmt;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// Longest slug accepted; matches the CHECK constraint on `posts.slug`.
pub const MAX_SLUG_LEN: usize = 200;
/// What [`Slug::parse`] accepts, as a JSON Schema pattern (with
/// [`MAX_SLUG_LEN`] as the maximum length).
pub const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// A URL slug: lower-case ASCII letters and digits in groups joined by single
/// hyphens (`hello-world-2`). Same rule as the database CHECK constraint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Accepts a slug as given, or says which rule it breaks.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        if input.is_empty() {
            return Err(DomainError::new("slug", "must not be empty"));
        }
        if input.len() > MAX_SLUG_LEN {
            return Err(DomainError::new(
                "slug",
                format!("must be at most {MAX_SLUG_LEN} characters"),
            ));
        }
        let well_formed = input.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !well_formed {
            return Err(DomainError::new(
                "slug",
                "must be lower-case letters and digits separated by single hyphens",
            ));
        }
        Ok(Self(input.to_owned()))
    }

    /// Derives a slug from free text (a title): accents dropped where they have an
    /// ASCII base letter, everything else that is not a letter or digit becomes a
    /// separator. Returns `None` when nothing usable is left (e.g. "!!!").
    pub fn from_title(title: &str) -> Option<Self> {
        let mut out = String::with_capacity(title.len());
        let mut pending_hyphen = false;
        for ch in title.chars().flat_map(fold_to_ascii) {
            if ch.is_ascii_alphanumeric() {
                if pending_hyphen && !out.is_empty() {
                    out.push('-');
                }
                pending_hyphen = false;
                out.push(ch.to_ascii_lowercase());
            } else {
                pending_hyphen = true;
            }
        }
        if out.len() > MAX_SLUG_LEN {
            // Cut at a hyphen so the slug does not end mid-word.
            let cut = out[..MAX_SLUG_LEN].rfind('-').unwrap_or(MAX_SLUG_LEN);
            out.truncate(cut);
        }
        if out.is_empty() {
            None
        } else {
            Some(Self(out))
        }
    }

    /// The slug with a numeric suffix (`title-2`), kept within the length limit.
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let keep = MAX_SLUG_LEN.saturating_sub(suffix.len()).min(self.0.len());
        let base = self.0[..keep].trim_end_matches('-');
        Self(format!("{base}{suffix}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Slug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Slug::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Maps common Latin letters with diacritics to their ASCII base, so
/// "Crème brûlée" becomes "creme-brulee" rather than "cr-me-br-l-e".
fn fold_to_ascii(ch: char) -> impl Iterator<Item = char> {
    let folded: &str = match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'œ' | 'Œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => "",
    };
    let keep = if folded.is_empty() { Some(ch) } else { None };
    folded.chars().chain(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_well_formed() {
        for ok in ["a", "hello-world", "post-2", "2026-plans"] {
            assert_eq!(Slug::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn parse_rejects_each_rule() {
        for bad in ["", "Hello", "a--b", "-a", "a-", "a_b", "a b", "é"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Slug::parse(&"a".repeat(201)).is_err());
        assert!(Slug::parse(&"a".repeat(200)).is_ok());
    }

    #[test]
    fn from_title_folds_and_joins() {
        assert_eq!(
            Slug::from_title("Hello, World!").unwrap().as_str(),
            "hello-world"
        );
        assert_eq!(
            Slug::from_title("  Crème brûlée  ").unwrap().as_str(),
            "creme-brulee"
        );
        assert_eq!(
            Slug::from_title("Rust 2024: what's new?").unwrap().as_str(),
            "rust-2024-what-s-new"
        );
        assert!(Slug::from_title("!!! ???").is_none());
        assert!(Slug::from_title("日本語").is_none());
    }

    #[test]
    fn from_title_respects_length_and_suffix() {
        let long = "word ".repeat(100);
        let slug = Slug::from_title(&long).unwrap();
        assert!(slug.as_str().len() <= MAX_SLUG_LEN);
        assert!(Slug::parse(slug.as_str()).is_ok());
        let suffixed = slug.with_suffix(12);
        assert!(suffixed.as_str().len() <= MAX_SLUG_LEN);
        assert!(suffixed.as_str().ends_with("-12"));
        assert!(Slug::parse(suffixed.as_str()).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_slug_from_any_title_parses(title in ".{0,400}") {
            if let Some(s) = Slug::from_title(&title) {
                prop_assert!(Slug::parse(s.as_str()).is_ok(), "{}", s.as_str());
                prop_assert!(s.as_str().len() <= MAX_SLUG_LEN);
                for n in [2u32, 10, 4_000_000_000] {
                    prop_assert!(Slug::parse(s.with_suffix(n).as_str()).is_ok());
                }
            }
        }

        #[test]
        fn parse_accepts_exactly_the_slug_shape(s in ".{0,80}") {
            let shape = !s.is_empty() && s.len() <= MAX_SLUG_LEN && s.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
            prop_assert_eq!(Slug::parse(&s).is_ok(), shape);
        }
    }
}
