//! CMS queries: public and editorial reads of posts with their category,
//! author and tags; taxonomy with published-post counts; and the
//! transactional writes (`writes`).
//!
//! The post list is built as SQL with positional binds because it needs
//! row-value keyset comparisons, full-text ranking and correlated ordering
//! that the query DSL cannot express; every value is bound, never spliced.

pub mod reads;
pub mod writes;

pub use reads::*;
pub use writes::*;
