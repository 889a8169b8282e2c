//! Row models, one module per table: the row struct (`Queryable`,
//! `Selectable`), a borrowed insert struct and that table's query functions.

pub mod author;
pub mod category;
pub mod post;
pub mod post_tag;
pub mod tag;
