//! Measures what revisions cost on disk: POSTS posts (default 10,000) of 13
//! paragraphs (~4 KB of text no other post shares), then EDITS rounds
//! (default 20) in which every post has one paragraph rewritten, each write
//! through `cms::update_post` as the API makes it. Prints the revision
//! tables' size beside what full copies of every revision would take.
//!
//! `DATABASE_URL=postgres://…/scratch cargo run --release -p presswork_db
//! --example revision_storage` (the database is migrated first; use an
//! empty scratch database). `scripts/bench/revisions.sh` runs it.
#![allow(clippy::print_stdout, reason = "a benchmark's report")]

use std::time::Instant;

use anyhow::Context;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use presswork_db::cms::{self, Actor, PostPatch, Via};
use uuid::Uuid;

const WORKERS: usize = 4;
const PARAGRAPHS: usize = 13;

/// A paragraph of about 300 bytes that no other (post, slot, version) has,
/// of made-up words (two to four of 32 syllables), which PostgreSQL's
/// compression shrinks about as much as prose (the report shows how much).
fn paragraph(post: usize, slot: usize, version: usize) -> String {
    const SYLLABLES: [&str; 32] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "ba", "de", "fi", "go", "hu", "ja", "ke",
        "li", "ma", "no", "pe", "qui", "ra", "si", "to", "ul", "ve", "wa", "xi", "yo", "za", "en",
        "or", "st",
    ];
    let mut x =
        ((post as u64) << 24) ^ ((slot as u64) << 12) ^ version as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        // xorshift64: cheap and deterministic.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = format!("Post {post}, paragraph {slot}, version {version}:");
    while out.len() < 300 {
        out.push(' ');
        for _ in 0..2 + next() % 3 {
            out.push_str(SYLLABLES[(next() % 32) as usize]);
        }
    }
    out.push('.');
    out
}

fn article(post: usize, versions: &[usize; PARAGRAPHS]) -> String {
    (0..PARAGRAPHS)
        .map(|slot| paragraph(post, slot, versions[slot]))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn arg(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name} must be a number")),
        Err(_) => Ok(default),
    }
}

#[derive(QueryableByName)]
struct Sizes {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    revisions: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    chunks: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    revision_bytes: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    chunk_bytes: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    content_bytes: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    stored_content_bytes: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    posts: i64,
}

async fn sizes(conn: &mut AsyncPgConnection) -> anyhow::Result<Sizes> {
    diesel::sql_query("VACUUM ANALYZE post_revisions, revision_chunks, posts")
        .execute(conn)
        .await?;
    Ok(diesel::sql_query(
        "SELECT (SELECT count(*) FROM post_revisions) AS revisions,
                (SELECT count(*) FROM revision_chunks) AS chunks,
                pg_total_relation_size('post_revisions') AS revision_bytes,
                pg_total_relation_size('revision_chunks') AS chunk_bytes,
                (SELECT coalesce(sum(octet_length(content)), 0)::bigint FROM posts) AS content_bytes,
                (SELECT coalesce(sum(pg_column_size(content)), 0)::bigint FROM posts) AS stored_content_bytes,
                (SELECT count(*) FROM posts) AS posts",
    )
    .get_result(conn)
    .await?)
}

fn mib(b: i64) -> String {
    format!("{:.1} MiB", b as f64 / 1_048_576.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL must name a scratch database")?;
    let posts = arg("POSTS", 10_000)?;
    let edits = arg("EDITS", 20)?;
    presswork_db::migrations::run_pending(&url).await?;
    let mut conn = AsyncPgConnection::establish(&url).await?;
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let user = diesel::sql_query(
        "INSERT INTO users (email, username) VALUES ('bench@example.com', 'bench-editor')
         ON CONFLICT (lower(username)) DO UPDATE SET email = EXCLUDED.email RETURNING id",
    )
    .get_result::<Id>(&mut conn)
    .await?
    .id;
    let actor = Actor {
        user_id: user,
        can_update_any: true,
        can_publish: true,
        via: Via::Api,
        request: Default::default(),
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let url = url.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            let mut ids = Vec::new();
            for post in (w..posts).step_by(WORKERS) {
                let p = PostPatch {
                    title: Some(format!("Revision storage {post}")),
                    content: Some(article(post, &[0; PARAGRAPHS])),
                    ..PostPatch::default()
                };
                ids.push((post, cms::create_post(&mut conn, actor.clone(), p).await?));
            }
            Ok::<_, anyhow::Error>(ids)
        }));
    }
    let mut created = Vec::new();
    for t in tasks {
        created.push(t.await??);
    }
    let create_time = started.elapsed();
    let before = sizes(&mut conn).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for ids in created {
        let url = url.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            for (post, id) in ids {
                let mut versions = [0usize; PARAGRAPHS];
                for edit in 1..=edits {
                    versions[edit % PARAGRAPHS] = edit;
                    let p = PostPatch {
                        content: Some(article(post, &versions)),
                        ..PostPatch::default()
                    };
                    cms::update_post(&mut conn, actor.clone(), id, p, None).await?;
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let edit_time = started.elapsed();
    let after = sizes(&mut conn).await?;
    let avg_content = after.content_bytes as f64 / after.posts.max(1) as f64;
    let avg_stored = after.stored_content_bytes as f64 / after.posts.max(1) as f64;
    let full_copies = after.revisions as f64 * avg_stored;
    let revision_tables = after.revision_bytes + after.chunk_bytes;
    let edits_only = revision_tables - (before.revision_bytes + before.chunk_bytes);
    println!("posts: {}, edits per post: {edits}", after.posts);
    println!(
        "created in {:.0} s, edited in {:.0} s ({:.0} edits/s, {WORKERS} connections)",
        create_time.as_secs_f64(),
        edit_time.as_secs_f64(),
        (after.posts as f64 * edits as f64) / edit_time.as_secs_f64()
    );
    println!(
        "average content: {avg_content:.0} bytes of text, {avg_stored:.0} bytes as PostgreSQL stores it (compressed)"
    );
    println!(
        "revisions: {}, distinct paragraphs: {}",
        after.revisions, after.chunks
    );
    println!(
        "after creation: post_revisions {} + revision_chunks {}",
        mib(before.revision_bytes),
        mib(before.chunk_bytes)
    );
    println!(
        "after the edits: post_revisions {} + revision_chunks {} = {}",
        mib(after.revision_bytes),
        mib(after.chunk_bytes),
        mib(revision_tables)
    );
    println!(
        "the edits added {} ({:.0} bytes per edit); full copies of every revision would take {} ({:.1}x)",
        mib(edits_only),
        edits_only as f64 / (after.posts as f64 * edits as f64).max(1.0),
        mib(full_copies as i64),
        full_copies / revision_tables as f64
    );
    Ok(())
}
