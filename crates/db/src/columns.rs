//! Reading a row's columns in the order its statement selects them.
//!
//! diesel's derived `QueryableByName` finds every column by its name, and
//! diesel-async finds a name by comparing it with each column of the row in
//! turn: for a list page's rows of 30 columns, about 450 comparisons a row,
//! 5 % of the API's CPU on a first page with the cache off (perf,
//! docs/PERFORMANCE.md). [`Columns`] takes each column where it is
//! expected, the one after the last it took, and checks its name there (one
//! comparison); a statement that orders its columns otherwise is still read
//! right, by name.

use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::row::{Field, Row};

/// A cursor over a row's columns (see the module's documentation).
pub(crate) struct Columns<'r, R> {
    row: &'r R,
    next: usize,
}

impl<'r, 'a, R: Row<'a, Pg>> Columns<'r, R> {
    pub(crate) fn new(row: &'r R) -> Self {
        Self { row, next: 0 }
    }

    /// The column `name` as `T`, read as SQL type `ST`.
    pub(crate) fn take<ST, T: FromSql<ST, Pg>>(&mut self, name: &str) -> deserialize::Result<T> {
        let named = |i: usize| {
            Row::get(self.row, i)
                .filter(|f| f.field_name() == Some(name))
                .map(|f| (i, f))
        };
        let (at, field) = named(self.next)
            .or_else(|| (0..self.row.field_count()).find_map(named))
            .ok_or_else(|| format!("Column `{name}` was not present in query"))?;
        self.next = at + 1;
        T::from_nullable_sql(field.value())
    }
}
