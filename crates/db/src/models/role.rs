use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{permissions, role_permissions, roles};

/// Every role with its permission names, by role name.
pub async fn list_with_permissions(
    conn: &mut AsyncPgConnection,
) -> QueryResult<Vec<(String, String, Vec<String>)>> {
    let all: Vec<(String, String)> = roles::table
        .select((roles::name, roles::description))
        .order(roles::name)
        .load(conn)
        .await?;
    let grants: Vec<(String, String)> = role_permissions::table
        .inner_join(roles::table)
        .inner_join(permissions::table)
        .select((roles::name, permissions::name))
        .order(permissions::name)
        .load(conn)
        .await?;
    Ok(all
        .into_iter()
        .map(|(name, description)| {
            let perms = grants
                .iter()
                .filter(|(r, _)| *r == name)
                .map(|(_, p)| p.clone())
                .collect();
            (name, description, perms)
        })
        .collect())
}

pub async fn all_permission_names(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    permissions::table
        .select(permissions::name)
        .order(permissions::name)
        .load(conn)
        .await
}
