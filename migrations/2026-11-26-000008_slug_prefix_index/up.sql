-- Finding the free variants of a slug (`base`, `base-2`, ...) is a prefix
-- search. The unique index on slug uses the database collation, which cannot
-- answer "starts with"; in the C collation, the slugs starting with "base-"
-- are exactly the range ["base-", "base."), which this index serves.
CREATE INDEX posts_slug_c_idx ON posts (slug COLLATE "C");
