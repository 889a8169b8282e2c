//! Prints, for a pgbench script, the statement the API sends for one public
//! read of the benchmark (`first`, `page`, `tag`, `slug` or `search`), built
//! by the same code as the API's own (`cms::list_statement`,
//! `cms::post_statement`), so pgbench measures the database on exactly the
//! API's SQL. The values the API would bind become the pgbench variables
//! `:lim` (the page size), `:o` (the offset), `:t` (a tag's number), `:n` (a
//! post's number) and `:r` (a rare term's number), which
//! scripts/bench/reads.sh sets beside the keys wrk draws:
//!
//! `cargo run --release -p presswork_db --example read_statements -- page`
#![allow(clippy::print_stdout, reason = "prints a pgbench script")]

use anyhow::{Context, bail};
use presswork_db::cms::{self, Bound, PostFilter, PostKey, PostQuery, Visibility};
use presswork_domain::post::PostSort;

/// The page size of every list read (`:lim`, set to the same by reads.sh).
const LIMIT: i64 = 20;
/// Stand-ins for the values drawn by pgbench, replaced by its variables.
const OFFSET: i64 = 987_654_321;
const TEXT: &str = "\u{1}drawn\u{1}";

fn main() -> anyhow::Result<()> {
    let read = std::env::args()
        .nth(1)
        .context("which read: first|page|tag|slug|search")?;
    // What pgbench draws in place of each value; the ranges it draws from
    // are set by scripts/bench/reads.sh beside wrk's.
    let drawn_text = match read.as_str() {
        "first" | "page" => "",
        "tag" => "'tag-' || :t",
        "slug" => "'bench-post-' || :n",
        "search" => "(SELECT word FROM bench_rare WHERE id = :r - 1)",
        other => bail!("no such read: {other}"),
    };
    let unsupported = std::cell::Cell::new(false);
    let write = |b: Bound<'_>| match b {
        Bound::BigInt(OFFSET) => ":o".to_owned(),
        Bound::BigInt(LIMIT) => ":lim".to_owned(),
        Bound::BigInt(v) => v.to_string(),
        Bound::Text(TEXT) => drawn_text.to_owned(),
        Bound::Text(v) => format!("'{}'", v.replace('\'', "''")),
        Bound::Other => {
            unsupported.set(true);
            String::new()
        }
    };
    let list =
        |filter: PostFilter, sort: PostSort, offset: i64, known_total: Option<i64>| PostQuery {
            visibility: Visibility::Public,
            filter,
            sort,
            limit: LIMIT,
            offset,
            cursor: None,
            summary: false,
            known_total,
        };
    let statement = match read.as_str() {
        // The first page without its total: the list-only query its target
        // is stated against.
        "first" => cms::list_statement(
            &list(PostFilter::default(), PostSort::NewestPublished, 0, Some(0)),
            &write,
        )?,
        "page" => cms::list_statement(
            &list(
                PostFilter::default(),
                PostSort::NewestPublished,
                OFFSET,
                None,
            ),
            &write,
        )?,
        "tag" => {
            let filter = PostFilter {
                tag_slugs: vec![TEXT.to_owned()],
                ..PostFilter::default()
            };
            cms::list_statement(
                &list(filter, PostSort::NewestPublished, OFFSET, None),
                &write,
            )?
        }
        "search" => {
            let filter = PostFilter {
                q: Some(TEXT.to_owned()),
                ..PostFilter::default()
            };
            cms::list_statement(&list(filter, PostSort::Relevance, 0, None), &write)?
        }
        _ => cms::post_statement(&PostKey::Slug(TEXT.to_owned()), Visibility::Public, &write),
    };
    if unsupported.get() {
        bail!("the {read} statement binds a value this script cannot draw");
    }
    println!("{statement};");
    Ok(())
}
