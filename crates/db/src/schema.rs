// @generated automatically by Diesel CLI.

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    api_keys (id) {
        id -> Uuid,
        owner_id -> Uuid,
        name -> Text,
        key_prefix -> Text,
        key_hash -> Text,
        permissions -> Array<Nullable<Text>>,
        allowed_ips -> Array<Nullable<Text>>,
        rate_limit_per_hour -> Nullable<Int4>,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    audit_events (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_kind -> Text,
        actor_user_id -> Nullable<Uuid>,
        actor_api_key_id -> Nullable<Uuid>,
        actor_label -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        summary -> Jsonb,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    authors (id) {
        id -> Uuid,
        name -> Text,
        slug -> Text,
        email -> Nullable<Text>,
        bio -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        user_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    categories (id) {
        id -> Uuid,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    chat_messages (id) {
        id -> Uuid,
        seq -> Int8,
        conversation_id -> Text,
        user_id -> Uuid,
        role -> Text,
        content -> Text,
        provider -> Nullable<Text>,
        model -> Nullable<Text>,
        input_tokens -> Int4,
        output_tokens -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    content_tasks (id) {
        id -> Uuid,
        task_id -> Nullable<Uuid>,
        content_type -> Text,
        topic -> Text,
        style -> Text,
        tone -> Text,
        target_length -> Int4,
        target_audience -> Nullable<Text>,
        primary_keyword -> Nullable<Text>,
        request -> Jsonb,
        title -> Nullable<Text>,
        content -> Nullable<Text>,
        excerpt -> Nullable<Text>,
        seo_title -> Nullable<Text>,
        seo_description -> Nullable<Text>,
        seo_keywords -> Array<Nullable<Text>>,
        slug -> Nullable<Text>,
        featured_image_url -> Nullable<Text>,
        featured_image_alt -> Nullable<Text>,
        featured_image_photographer -> Nullable<Text>,
        featured_image_source_url -> Nullable<Text>,
        quality_score -> Nullable<Float8>,
        qa_feedback -> Nullable<Jsonb>,
        model_used -> Nullable<Text>,
        usage -> Jsonb,
        stages -> Jsonb,
        prompt_version -> Nullable<Text>,
        status -> Text,
        approval_status -> Text,
        publish_mode -> Text,
        approved_by -> Nullable<Uuid>,
        approved_at -> Nullable<Timestamptz>,
        approval_notes -> Nullable<Text>,
        error -> Nullable<Text>,
        post_id -> Nullable<Uuid>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    llm_calls (id) {
        id -> Int8,
        provider -> Text,
        model -> Text,
        purpose -> Nullable<Text>,
        input_tokens -> Int8,
        output_tokens -> Int8,
        cost_usd -> Nullable<Float8>,
        latency_ms -> Int4,
        outcome -> Text,
        streamed -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    login_failures (login_key) {
        login_key -> Text,
        failed_count -> Int4,
        locked_until -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    permissions (id) {
        id -> Uuid,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    post_counts (dimension, key) {
        dimension -> Text,
        key -> Uuid,
        n -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    post_revisions (id) {
        id -> Int8,
        post_id -> Nullable<Uuid>,
        review_id -> Nullable<Uuid>,
        source -> Text,
        user_id -> Nullable<Uuid>,
        api_key_id -> Nullable<Uuid>,
        content_task_id -> Nullable<Uuid>,
        prompt_version -> Nullable<Text>,
        restored_from -> Nullable<Int8>,
        message -> Nullable<Text>,
        changed -> Array<Nullable<Text>>,
        created_at -> Timestamptz,
        title -> Nullable<Text>,
        slug -> Nullable<Text>,
        content_chunks -> Array<Nullable<Int8>>,
        excerpt -> Nullable<Text>,
        seo_title -> Nullable<Text>,
        seo_description -> Nullable<Text>,
        seo_keywords -> Nullable<Text>,
        category_id -> Nullable<Uuid>,
        tag_ids -> Array<Nullable<Uuid>>,
        featured_image_url -> Nullable<Text>,
        cover_image_url -> Nullable<Text>,
        author_id -> Nullable<Uuid>,
        featured -> Nullable<Bool>,
        status -> Nullable<Text>,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    post_slug_history (slug) {
        slug -> Text,
        post_id -> Nullable<Uuid>,
        retired_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    post_tags (post_id, tag_id) {
        post_id -> Uuid,
        tag_id -> Uuid,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        public -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    posts (id) {
        id -> Uuid,
        title -> Text,
        slug -> Text,
        content -> Text,
        excerpt -> Nullable<Text>,
        featured_image_url -> Nullable<Text>,
        cover_image_url -> Nullable<Text>,
        author_id -> Nullable<Uuid>,
        category_id -> Nullable<Uuid>,
        seo_title -> Nullable<Text>,
        seo_description -> Nullable<Text>,
        seo_keywords -> Nullable<Text>,
        status -> Text,
        published_at -> Nullable<Timestamptz>,
        featured -> Bool,
        view_count -> Int8,
        metadata -> Jsonb,
        created_by -> Nullable<Uuid>,
        updated_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        search -> Tsvector,
        content_html -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    preview_links (id) {
        id -> Uuid,
        post_id -> Nullable<Uuid>,
        content_task_id -> Nullable<Uuid>,
        token_hash -> Text,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    rate_limit_counters (bucket, window_start) {
        bucket -> Text,
        window_start -> Timestamptz,
        hits -> Int8,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    revision_chunks (id) {
        id -> Int8,
        digest -> Bytea,
        body -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    role_permissions (role_id, permission_id) {
        role_id -> Uuid,
        permission_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    roles (id) {
        id -> Uuid,
        name -> Text,
        description -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        refresh_token_hash -> Text,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        last_used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    settings (id) {
        id -> Uuid,
        key -> Text,
        value -> Nullable<Text>,
        data_type -> Text,
        category -> Text,
        is_secret -> Bool,
        encrypted_value -> Nullable<Bytea>,
        description -> Text,
        updated_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    tags (id) {
        id -> Uuid,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        color -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    tasks (id) {
        id -> Uuid,
        task_type -> Text,
        status -> Text,
        priority -> Int4,
        payload -> Jsonb,
        result -> Nullable<Jsonb>,
        error -> Nullable<Text>,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        lease_until -> Nullable<Timestamptz>,
        locked_by -> Nullable<Text>,
        cancel_requested -> Bool,
        idempotency_key -> Nullable<Text>,
        progress -> Jsonb,
        created_by -> Nullable<Uuid>,
        task_name -> Nullable<Text>,
        topic -> Nullable<Text>,
        primary_keyword -> Nullable<Text>,
        target_audience -> Nullable<Text>,
        category -> Nullable<Text>,
        metadata -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    user_roles (user_id, role_id) {
        user_id -> Uuid,
        role_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    users (id) {
        id -> Uuid,
        email -> Text,
        username -> Text,
        display_name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        is_active -> Bool,
        totp_enabled -> Bool,
        totp_secret_encrypted -> Nullable<Bytea>,
        totp_last_step -> Nullable<Int8>,
        totp_backup_code_hashes -> Array<Nullable<Text>>,
        github_id -> Nullable<Int8>,
        failed_login_count -> Int4,
        locked_until -> Nullable<Timestamptz>,
        last_login_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    webhook_subscriptions (id) {
        id -> Uuid,
        url -> Text,
        events -> Array<Nullable<Text>>,
        secret_encrypted -> Bytea,
        description -> Text,
        is_active -> Bool,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use diesel_full_text_search::Tsvector;

    workers (id) {
        id -> Text,
        host -> Text,
        pid -> Int4,
        version -> Text,
        started_at -> Timestamptz,
        last_heartbeat_at -> Timestamptz,
        stopped_at -> Nullable<Timestamptz>,
        running -> Int4,
        completed -> Int8,
        failed -> Int8,
        task_kinds -> Array<Nullable<Text>>,
        providers -> Jsonb,
    }
}

diesel::joinable!(api_keys -> users (owner_id));
diesel::joinable!(authors -> users (user_id));
diesel::joinable!(chat_messages -> users (user_id));
diesel::joinable!(content_tasks -> posts (post_id));
diesel::joinable!(content_tasks -> tasks (task_id));
diesel::joinable!(post_revisions -> api_keys (api_key_id));
diesel::joinable!(post_revisions -> content_tasks (review_id));
diesel::joinable!(post_revisions -> users (user_id));
diesel::joinable!(post_slug_history -> posts (post_id));
diesel::joinable!(post_tags -> posts (post_id));
diesel::joinable!(post_tags -> tags (tag_id));
diesel::joinable!(posts -> authors (author_id));
diesel::joinable!(posts -> categories (category_id));
diesel::joinable!(preview_links -> content_tasks (content_task_id));
diesel::joinable!(preview_links -> posts (post_id));
diesel::joinable!(preview_links -> users (created_by));
diesel::joinable!(role_permissions -> permissions (permission_id));
diesel::joinable!(role_permissions -> roles (role_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(settings -> users (updated_by));
diesel::joinable!(tasks -> users (created_by));
diesel::joinable!(user_roles -> roles (role_id));
diesel::joinable!(user_roles -> users (user_id));
diesel::joinable!(webhook_subscriptions -> users (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    audit_events,
    authors,
    categories,
    chat_messages,
    content_tasks,
    llm_calls,
    login_failures,
    permissions,
    post_counts,
    post_revisions,
    post_slug_history,
    post_tags,
    posts,
    preview_links,
    rate_limit_counters,
    revision_chunks,
    role_permissions,
    roles,
    sessions,
    settings,
    tags,
    tasks,
    user_roles,
    users,
    webhook_subscriptions,
    workers,
);
