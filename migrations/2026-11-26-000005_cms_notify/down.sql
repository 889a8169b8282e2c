DROP TRIGGER authors_cms_notify ON authors;
DROP TRIGGER tags_cms_notify ON tags;
DROP TRIGGER categories_cms_notify ON categories;
DROP TRIGGER post_tags_cms_notify ON post_tags;
DROP TRIGGER posts_cms_notify_update ON posts;
DROP TRIGGER posts_cms_notify ON posts;
DROP FUNCTION presswork_cms_notify();
