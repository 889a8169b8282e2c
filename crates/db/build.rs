//! `embed_migrations!` reads `migrations/` at compile time; without this,
//! adding a migration file would not rebuild the crate and binaries (and the
//! test template) would silently carry the old list.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
