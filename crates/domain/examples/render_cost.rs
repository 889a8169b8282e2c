//! What rendering one post costs: pulldown-cmark alone, then with ammonia.
//! `cargo run --release -p presswork_domain --example render_cost [iterations]`

use std::time::Instant;

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000);
    // About 4 KB of varied prose, as in the benchmark dataset.
    let mut markdown = String::from("# A post\n\n");
    for i in 0..18 {
        markdown.push_str(&format!(
            "Paragraph {i}: Presswork renders *markdown* safely and serves it quickly from \
             [PostgreSQL](https://www.postgresql.org/). Editors approve drafts written by a \
             pipeline before anything is published.\n\n## Section {i}\n\n"
        ));
    }
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..iterations {
        bytes += presswork_domain::markdown::render(&markdown).len();
    }
    let per = start.elapsed() / iterations as u32;
    println!(
        "markdown {} B -> html {} B: render + sanitise {:?} per post",
        markdown.len(),
        bytes / iterations,
        per
    );
}
