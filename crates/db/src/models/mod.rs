//! Row models, one module per table: the row struct (`Queryable`,
//! `Selectable`), a borrowed insert struct and that table's query functions.
//! Query functions take `&mut AsyncPgConnection`; the caller owns the transaction.

pub mod api_key;
pub mod author;
pub mod category;
pub mod chat_message;
pub mod content_task;
pub mod llm_call;
pub mod login_failure;
pub mod post;
pub mod post_tag;
pub mod role;
pub mod session;
pub mod setting;
pub mod tag;
pub mod user;
pub mod worker;
