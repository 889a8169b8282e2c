//! Public post reads assembled from the cache's per-post fragments (see
//! [`crate::cache`]): when a whole answer misses, only the posts whose
//! fragment is missing or stale are read and serialised.

use std::collections::HashMap;

use actix_web::web::Bytes;
use presswork_db::cms::{self, CursorKey, PostKey, PostQuery, PostWithTags, Visibility};
use uuid::Uuid;

use super::posts::{ListBody, PostDto, detail_bytes, post_json};
use crate::AppState;
use crate::cache::{FragmentKey, ListRead};
use crate::error::ApiError;

/// A list page: its posts written into the answer, in order.
pub(super) struct Page {
    pub body: ListBody,
    pub total: i64,
    pub next_cursor: Option<CursorKey>,
}

/// Room for a page of `posts` serialised in place without the buffer
/// growing: their text, a kilobyte each for the rest, and the worst case
/// sonic-rs reserves for escaping the longest text (six bytes a byte).
fn room_for(posts: &[PostWithTags]) -> usize {
    let text = |p: &PostWithTags| {
        p.post.content.as_ref().map_or(0, String::len)
            + p.post.excerpt.as_ref().map_or(0, String::len)
    };
    let longest = posts.iter().map(text).max().unwrap_or(0);
    posts.iter().map(|p| text(p) + 1024).sum::<usize>() + longest * 6
}

fn item_bytes(p: PostWithTags) -> Result<Bytes, ApiError> {
    post_json(&PostDto::from_row(p, false)).map(Bytes::from)
}

fn item_key(id: Uuid, q: &PostQuery) -> FragmentKey {
    FragmentKey::Item {
        id,
        summary: q.summary,
    }
}

/// The page `q` names. With `fragments` (an anonymous reader of a public
/// list, the cache on), the cache's rule ([`PublicCache::list_read`]) says
/// whether posts already held are copied instead of serialised again, and
/// whether the page is probed first so that only the others are read.
///
/// [`PublicCache::list_read`]: crate::cache::PublicCache::list_read
pub(super) async fn list(
    state: &AppState,
    conn: &mut presswork_db::PooledConnection,
    q: &PostQuery,
    fragments: bool,
) -> Result<Page, ApiError> {
    let cache = &state.public_cache;
    let read = if fragments {
        cache.list_read()
    } else {
        ListRead::Plain
    };
    // Whether this page looks its posts up among the fragments, and keeps
    // those it reads (see `PublicCache::list_read`).
    let (look_up, full) = match read {
        ListRead::Plain => (false, false),
        ListRead::Probe { full } => {
            if let Some(page) = assemble(state, conn, q, full).await? {
                return Ok(page);
            }
            (true, full)
        }
        ListRead::Whole { full } => (true, full),
    };
    let terms = cache.terms();
    let page = cms::list_posts(conn, q).await?;
    let of = page.posts.len();
    let mut hits = 0;
    let mut body = ListBody::with_capacity(room_for(&page.posts));
    for p in page.posts {
        if !look_up {
            body.push_post(&PostDto::from_row(p, false))?;
            continue;
        }
        let key = item_key(p.post.id, q);
        let signature = p.signature();
        if let Some(held) = cache.current(&key, &signature) {
            hits += 1;
            body.push_bytes(&held);
            continue;
        }
        let id = p.post.id;
        let written = body.push_post_bytes(&PostDto::from_row(p, false))?;
        if cache.admit_fragment(full) {
            let bytes = Bytes::copy_from_slice(written);
            cache.put_fragment(key, id, signature, terms, bytes);
        }
    }
    if look_up {
        cache.record_list_hits(hits, of);
    }
    Ok(Page {
        body,
        total: page.total,
        next_cursor: page.next_cursor,
    })
}

/// The page from its probe and the fragments held; `None` when a post
/// changed between the probe and its read (the caller reads it whole).
async fn assemble(
    state: &AppState,
    conn: &mut presswork_db::PooledConnection,
    q: &PostQuery,
    full: bool,
) -> Result<Option<Page>, ApiError> {
    let cache = &state.public_cache;
    let terms = cache.terms();
    let probed = cms::probe_page(conn, q).await?;
    let mut items: Vec<Option<Bytes>> = probed
        .posts
        .iter()
        .map(|p| cache.current(&item_key(p.id, q), &p.signature))
        .collect();
    cache.record_list_hits(items.iter().flatten().count(), items.len());
    let missing: Vec<Uuid> = probed
        .posts
        .iter()
        .zip(&items)
        .filter(|(_, held)| held.is_none())
        .map(|(p, _)| p.id)
        .collect();
    if !missing.is_empty() {
        let mut read: HashMap<Uuid, PostWithTags> = cms::posts_by_id(conn, &missing, q.summary)
            .await?
            .into_iter()
            .map(|p| (p.post.id, p))
            .collect();
        for (p, slot) in probed.posts.iter().zip(items.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let Some(row) = read.remove(&p.id).filter(|r| r.signature() == p.signature) else {
                return Ok(None);
            };
            let bytes = item_bytes(row)?;
            if cache.admit_fragment(full) {
                cache.put_fragment(
                    item_key(p.id, q),
                    p.id,
                    p.signature.clone(),
                    terms,
                    bytes.clone(),
                );
            }
            *slot = Some(bytes);
        }
    }
    let items: Vec<Bytes> = items.into_iter().flatten().collect();
    Ok(Some(Page {
        body: ListBody::from_fragments(&items),
        total: probed.total,
        next_cursor: probed.next_cursor,
    }))
}

/// One post's answer by the key as asked. With `fragments`, a post held is
/// checked by a probe of its signature (one small round trip) instead of
/// read and serialised again.
pub(super) async fn detail(
    state: &AppState,
    asked: &str,
    key: PostKey,
    visibility: Visibility,
    fragments: bool,
) -> Result<Vec<u8>, ApiError> {
    let cache = &state.public_cache;
    let fragments = fragments && cache.enabled();
    let fragment_key = FragmentKey::Detail(asked.to_owned());
    let terms = cache.terms();
    let mut conn = state.conn().await?;
    let held = fragments.then(|| cache.fragment(&fragment_key)).flatten();
    if let Some(held) = held {
        match cms::probe_post(&mut conn, &key, visibility).await? {
            None => return Err(ApiError::not_found("no such post")),
            Some(p) if p.id == held.id && p.signature == held.signature => {
                cache.count_fragment(true);
                return Ok(held.bytes.to_vec());
            }
            Some(_) => {}
        }
    }
    if fragments {
        cache.count_fragment(false);
    }
    let mut post = cms::get_post(&mut conn, &key, visibility)
        .await?
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    if !presswork_domain::grounding::provenance_visible(
        visibility == Visibility::All,
        state.config.pipeline.public_provenance,
    ) {
        post.provenance = None;
    }
    let (id, signature) = (post.post.id, post.signature());
    let bytes = detail_bytes(post)?;
    if fragments && cache.admit_fragment(cache.fragments_full()) {
        cache.put_fragment(
            fragment_key,
            id,
            signature,
            terms,
            Bytes::copy_from_slice(&bytes),
        );
    }
    Ok(bytes)
}
