//! Presswork's content pipeline: research → draft → self-critique (rubric
//! scores) → refine → SEO metadata → image, persisted stage by stage in a
//! content task that then awaits human approval.
//!
//! Written against the `presswork_llm` provider trait and the `presswork_db`
//! queries. It must not know any provider's wire format and must not serve
//! HTTP; the worker runs it and the API only creates, reads and approves.
//!
//! Filled by the content-pipeline issue.
