use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::post_tags;

#[derive(Debug, Insertable)]
#[diesel(table_name = post_tags)]
pub struct NewPostTag {
    pub post_id: Uuid,
    pub tag_id: Uuid,
}
