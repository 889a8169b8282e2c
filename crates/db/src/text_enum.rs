//! The one conversion between the domain's text enums
//! (`presswork_domain::status`) and the text columns that store them.
//!
//! Reading: a model field typed with the domain enum names
//! `#[diesel(deserialize_as = Stored<TheEnum>)]`; a value outside the enum is
//! a deserialisation error (the CHECK constraints make it impossible; a test
//! compares them with the enums). Writing: `column.eq(status.as_str())`.

use diesel::deserialize::{self, FromSql, Queryable};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Text;
use presswork_domain::status::TextEnum;

/// What a domain enum is written as: `#[diesel(serialize_as = AsText)]` on
/// an insert field typed with the enum (elsewhere, `.eq(status.as_str())`).
#[derive(Debug, Clone, Copy, diesel::expression::AsExpression)]
#[diesel(sql_type = Text)]
pub struct AsText(&'static str);

impl diesel::serialize::ToSql<Text, Pg> for AsText {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, Pg>,
    ) -> diesel::serialize::Result {
        <str as diesel::serialize::ToSql<Text, Pg>>::to_sql(self.0, out)
    }
}

/// A domain enum as read from its text column.
#[derive(Debug, Clone, Copy)]
pub struct Stored<T>(pub T);

impl<T: TextEnum> FromSql<Text, Pg> for Stored<T> {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        let s = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        T::from_name(&s).map(Stored).ok_or_else(|| {
            format!("{}: {s:?} is none of {}", T::FIELD, T::names().join(", ")).into()
        })
    }
}

impl<T: TextEnum> Queryable<Text, Pg> for Stored<T> {
    type Row = Self;
    fn build(row: Self) -> deserialize::Result<Self> {
        Ok(row)
    }
}

macro_rules! unwrap_stored {
    ($($t:ty),+) => {$(
        impl From<Stored<$t>> for $t {
            fn from(s: Stored<$t>) -> $t {
                s.0
            }
        }

        impl From<$t> for AsText {
            fn from(v: $t) -> AsText {
                AsText(v.as_str())
            }
        }
    )+};
}

unwrap_stored!(
    presswork_domain::status::TaskStatus,
    presswork_domain::status::ContentStatus,
    presswork_domain::status::ApprovalStatus,
    presswork_domain::status::PublishMode
);
