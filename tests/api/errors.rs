//! Bad input and odd requests: every error is problem+json, nothing panics
//! the process, and the service describes itself.

use axum::routing::get;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

#[tokio::test]
async fn malformed_bodies() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let post = |content_type: &'static str, body: Vec<u8>| {
        app.request(Method::POST, "/todos", Some(&alice))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_problem(
        post("application/json", b"{\"title\": ".to_vec())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        post("application/json", b"{\"title\": \"a\"} trailing".to_vec())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_problem(
        post("application/json", b"[1, 2]".to_vec()).await.unwrap(),
        422,
    )
    .await;
    assert_problem(
        post("text/plain", b"{\"title\": \"a\"}".to_vec())
            .await
            .unwrap(),
        415,
    )
    .await;
    let no_type = app
        .request(Method::POST, "/todos", Some(&alice))
        .body("{\"title\":\"a\"}")
        .send()
        .await
        .unwrap();
    assert_problem(no_type, 415).await;
    let huge = json!({ "title": "a", "notes": "n".repeat(300 * 1024) })
        .to_string()
        .into_bytes();
    assert_problem(post("application/json", huge).await.unwrap(), 413).await;
    assert_problem(
        post("application/json", vec![0xff, 0xfe, 0x00])
            .await
            .unwrap(),
        400,
    )
    .await;
    // Structured-syntax JSON types are JSON too.
    assert_eq!(
        post(
            "application/merge-patch+json",
            b"{\"title\": \"a\"}".to_vec()
        )
        .await
        .unwrap()
        .status(),
        201
    );
    assert_eq!(
        app.todo_count(&alice).await,
        1,
        "no partial writes from bad requests"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    assert_problem(app.get_public("/nope").await, 404).await;
    let response = app
        .request(Method::PUT, "/todos", Some(&app.token("a").await))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        allow.contains("GET") && allow.contains("POST"),
        "Allow: {allow}"
    );
    assert_problem(response, 405).await;
}

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_process_keeps_serving() {
    async fn boom() -> &'static str {
        panic!("kaboom: secret detail")
    }
    let app = TestApp::builder()
        .with_routes(|routes| routes.route("/boom", get(boom)))
        .spawn()
        .await;
    let problem = assert_problem(app.get_public("/boom").await, 500).await;
    assert!(
        !problem.to_string().contains("kaboom"),
        "no internals leak: {problem}"
    );
    assert_eq!(app.get_public("/healthz").await.status(), 200);
}

#[tokio::test]
async fn slow_handlers_time_out_with_503() {
    let app = TestApp::builder()
        .with_env("APP_REQUEST_TIMEOUT", "200ms")
        .with_routes(|routes| {
            routes.route(
                "/slow",
                get(|| async { tokio::time::sleep(std::time::Duration::from_secs(5)).await }),
            )
        })
        .spawn()
        .await;
    assert_problem(app.get_public("/slow").await, 503).await;
}

#[tokio::test]
async fn request_ids_are_generated_or_echoed() {
    let app = spawn_app().await;
    let generated = app.get_public("/healthz").await;
    assert!(generated.headers()["x-request-id"].to_str().unwrap().len() >= 32);
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::builder()
        .with_env("APP_CORS_ORIGINS", "https://app.example.com")
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/todos"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.com").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn large_responses_are_compressed_on_request_and_small_ones_not() {
    let app = spawn_app().await;
    let token = app.token("alice").await;
    let id = app.new_todo_id(&token, "milk").await;
    let gzip_get = |path: &str| {
        app.request(Method::GET, path, Some(&token))
            .header("accept-encoding", "gzip")
            .send()
    };
    let varies = |r: &reqwest::Response| {
        let vary = r.headers().get_all("vary");
        vary.iter().any(|v| v == "accept-encoding")
    };

    let large = gzip_get("/openapi.json").await.unwrap();
    assert_eq!(large.headers()["content-encoding"], "gzip");
    assert!(varies(&large));

    // One todo is a few hundred bytes: not worth a gzip header, nor a Vary.
    let small = gzip_get(&format!("/todos/{id}")).await.unwrap();
    assert_eq!(small.status().as_u16(), 200);
    assert!(small.headers().get("content-encoding").is_none());
    assert!(!varies(&small));
    let body = small.bytes().await.unwrap();
    assert!(
        body.len() > 32 && body.len() < usize::from(atrium::http::middleware::COMPRESS_FROM_BYTES)
    );
}

/// The Swagger UI bundle is stored gzipped: sent as it is to a client that
/// accepts gzip, unpacked for one that doesn't (or refuses it with q=0).
#[tokio::test]
async fn the_docs_bundle_is_gzipped_only_for_clients_that_accept_it() {
    let app = spawn_app().await;
    let fetch = |accept: Option<&'static str>| {
        let request = app.request(Method::GET, "/docs/swagger-ui-bundle.js", None);
        match accept {
            Some(value) => request.header("accept-encoding", value).send(),
            None => request.send(),
        }
    };
    let packed = fetch(Some("br, gzip")).await.unwrap();
    assert_eq!(packed.status(), 200);
    assert_eq!(packed.headers()["content-encoding"], "gzip");
    let packed = packed.bytes().await.unwrap();
    assert!(packed.starts_with(&[0x1f, 0x8b]), "not gzip");

    for accept in [None, Some("gzip;q=0"), Some("identity")] {
        let plain = fetch(accept).await.unwrap();
        assert_eq!(plain.status(), 200, "{accept:?}");
        assert!(
            plain.headers().get("content-encoding").is_none(),
            "{accept:?}"
        );
        assert!(
            plain.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        let text = plain.text().await.unwrap();
        assert!(text.len() > packed.len() * 2, "{accept:?}: not unpacked");
        assert!(text.contains("SwaggerUIBundle"), "{accept:?}");
    }
    assert_problem(app.get_public("/docs/swagger-ui.js.map").await, 404).await;
}

#[tokio::test]
async fn health_readiness_and_docs() {
    let app = spawn_app().await;
    assert_eq!(
        app.get_public("/healthz")
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "ok"
    );
    assert_eq!(
        app.get_public("/readyz")
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "ready"
    );
    let docs = app.get_public("/docs/").await;
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger-ui-bundle.js"),
        "Swagger UI is served from the binary"
    );
    let jwks = app.get_public("/.well-known/jwks.json").await;
    if app.backends().local_issuer.is_none() {
        // Cognito publishes the keys; this service has none of its own.
        assert_problem(jwks, 404).await;
        return;
    }
    let jwks: Value = jwks.json().await.unwrap();
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "only the public key is published"
    );
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let app = spawn_app().await;
    let spec: Value = app.get_public("/openapi.json").await.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = &spec["paths"];
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/me", "get"),
        ("/todos", "get"),
        ("/todos", "post"),
        ("/todos/{id}", "get"),
        ("/todos/{id}", "patch"),
        ("/todos/{id}", "delete"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is documented"
        );
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(spec["components"]["schemas"]["Todo"].is_object());
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    assert!(paths["/todos"]["post"]["responses"]["422"].is_object());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_the_cache() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let id = app.new_todo_id(&alice, "a").await;
    for _ in 0..3 {
        app.get_todo(&alice, &id).await;
    }
    app.get_public("/no/such/route").await;
    // A route whose answers are never kept is no miss of the response
    // cache, though its path fits `/todos/{id}`.
    app.get("/todos/changes", &alice).await;
    let text = app.get_public("/metrics").await.text().await.unwrap();
    // Answers kept by the response cache (sent before routing) are
    // counted under their route too.
    assert!(
        text.contains(
            r#"atrium_http_requests_total{method="GET",route="/todos/{id}",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"atrium_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("atrium_http_request_duration_seconds_bucket"));
    let figure = |name: &str| {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.rsplit(' ').next().unwrap().to_string()
    };
    // The create reads the user's change counter (a miss) and writes the
    // todo through; the first GET reads the todo from memory and keeps its
    // answer, which the other two are sent.
    assert_eq!(figure("atrium_cache_hits_total"), "1");
    assert_eq!(figure("atrium_cache_misses_total"), "1");
    assert_eq!(figure("atrium_response_cache_misses_total"), "1");
    assert_eq!(figure("atrium_response_cache_hits_total"), "2");
    assert!(text.contains("atrium_cache_bytes "));
}
