//! Ids that cross crates and are easy to mix up. A content task and the
//! queued task that generates it both have UUIDs, and both used to travel as
//! `Uuid` (and as `task_id` in two DTOs meaning different things). A content
//! task's id is a [`ContentTaskId`]; a queued task's stays a plain `Uuid`, so
//! passing one where the other is expected is a compile error either way.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The id of a content task (`content_tasks.id`): a generated piece of
/// content and its review. Not the id of the task that generates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentTaskId(Uuid);

impl ContentTaskId {
    pub const fn new(id: Uuid) -> Self {
        Self(id)
    }

    pub const fn uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for ContentTaskId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<ContentTaskId> for Uuid {
    fn from(id: ContentTaskId) -> Self {
        id.0
    }
}

impl fmt::Display for ContentTaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for ContentTaskId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::from_str(s).map(Self)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ContentTaskId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ContentTaskId {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_task_id_is_a_bare_uuid_on_the_wire() {
        let id = ContentTaskId::new(Uuid::from_u128(7));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", Uuid::from_u128(7)));
        assert_eq!(serde_json::from_str::<ContentTaskId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<ContentTaskId>().unwrap(), id);
        assert!("nope".parse::<ContentTaskId>().is_err());
    }
}
