//! The SSRF guard and the research page reader against a local server.

use std::time::Duration;

use presswork_pipeline::outbound::{OutboundError, PageFetcher};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn open() -> PageFetcher {
    PageFetcher {
        allow_private: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_page_on_a_private_address_is_refused_unless_allowed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<p>inside</p>", "text/html"))
        .mount(&server)
        .await;
    let url = format!("{}/x", server.uri());
    let e = PageFetcher::default().fetch(&url).await.unwrap_err();
    assert!(
        matches!(&e, OutboundError::Refused(m) if m.contains("private or loopback")),
        "{e:?}"
    );
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "never connected"
    );
    assert_eq!(open().fetch(&url).await.unwrap(), "inside");
    let e = open().fetch("file:///etc/passwd").await.unwrap_err();
    assert!(matches!(e, OutboundError::Refused(_)), "{e:?}");
}

#[tokio::test]
async fn redirects_are_followed_a_few_hops_and_each_is_vetted() {
    let server = MockServer::start().await;
    Mock::given(path("/a"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/b"))
        .mount(&server)
        .await;
    Mock::given(path("/b"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("plain words", "text/plain"))
        .mount(&server)
        .await;
    Mock::given(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    // Every hop goes through the guard: a redirect to another scheme is
    // refused like a first request would be.
    Mock::given(path("/out"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "file:///etc/passwd"))
        .mount(&server)
        .await;
    assert_eq!(
        open().fetch(&format!("{}/a", server.uri())).await.unwrap(),
        "plain words"
    );
    let e = open()
        .fetch(&format!("{}/loop", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OutboundError::Unavailable(m) if m.contains("redirects")),
        "{e:?}"
    );
    let e = open()
        .fetch(&format!("{}/out", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OutboundError::Refused(m) if m.contains("only http")),
        "{e:?}"
    );
}

#[tokio::test]
async fn only_text_is_read_and_only_so_much_of_it() {
    let server = MockServer::start().await;
    Mock::given(path("/pdf"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"%PDF-1.7".to_vec(), "application/pdf"),
        )
        .mount(&server)
        .await;
    let big = format!("<p>{}</p>", "word ".repeat(100_000));
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big, "text/html"))
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw("late", "text/plain")
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let e = open()
        .fetch(&format!("{}/pdf", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OutboundError::Refused(m) if m.contains("application/pdf")),
        "{e:?}"
    );
    let limited = PageFetcher {
        allow_private: true,
        max_bytes: 10_000,
        max_chars: 500,
        ..Default::default()
    };
    let text = limited
        .fetch(&format!("{}/big", server.uri()))
        .await
        .unwrap();
    assert_eq!(text.chars().count(), 500);
    let quick = PageFetcher {
        allow_private: true,
        timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let e = quick
        .fetch(&format!("{}/slow", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OutboundError::Unavailable(m) if m.contains("no answer")),
        "{e:?}"
    );
}
