DROP INDEX posts_slug_c_idx;
