//! One module per resource. `configure` registers every route; `main` and the
//! tests both build the app through it.

pub mod health;
