//! Token verification as a client meets it: forged tokens, groups, remote
//! key sets.

use std::time::Duration;

use atrium::auth::{Claims, LocalIssuer};
use atrium::clock::now_epoch;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

fn valid_claims(app: &TestApp) -> Claims {
    Claims {
        sub: atrium::auth::local_sub("mallory"),
        iss: app.config.auth.issuer.clone(),
        token_use: "access".into(),
        client_id: Some(app.config.auth.client_ids[0].clone()),
        aud: None,
        username: Some("mallory".into()),
        cognito_username: None,
        groups: vec![],
        exp: now_epoch() + 600,
        iat: Some(now_epoch()),
        nbf: None,
        jti: None,
    }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with any header and claims, signed HS256 with `secret`.
fn hs256(header: Value, claims: &Claims, secret: &[u8]) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(&header),
        b64(&serde_json::to_value(claims).unwrap())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = spawn_app().await;
    let kid = app.issuer.jwks().keys[0].common.key_id.clone().unwrap();
    let with = |change: &dyn Fn(&mut Claims)| {
        let mut claims = valid_claims(&app);
        change(&mut claims);
        app.issuer.sign(&claims)
    };
    let good = with(&|_| {});
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();

    let mut tampered_claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    tampered_claims["sub"] = json!(atrium::auth::local_sub("alice"));
    let tampered = format!("{head}.{}.{signature}", b64(&tampered_claims));

    let public_jwk = serde_json::to_vec(&app.issuer.jwks().keys[0]).unwrap();
    let unknown_key = LocalIssuer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();
    let mut id_token = valid_claims(&app);
    id_token.token_use = "id".into();
    id_token.aud = id_token.client_id.take();
    let missing_exp = {
        let mut claims = serde_json::to_value(valid_claims(&app)).unwrap();
        claims.as_object_mut().unwrap().remove("exp");
        app.issuer.sign(&claims)
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT", "kid": kid })),
        b64(&serde_json::to_value(valid_claims(&app)).unwrap())
    );

    let cases: Vec<(&str, String)> = vec![
        ("expired", with(&|c| c.exp = now_epoch() - 120)),
        ("not yet valid", with(&|c| c.nbf = Some(now_epoch() + 600))),
        (
            "issued in the future",
            with(&|c| c.iat = Some(now_epoch() + 600)),
        ),
        (
            "wrong issuer",
            with(&|c| c.iss = "https://cognito-idp.us-east-1.amazonaws.com/other".into()),
        ),
        (
            "wrong client",
            with(&|c| c.client_id = Some("someone-elses-app".into())),
        ),
        ("no client", with(&|c| c.client_id = None)),
        (
            "id token where access is required",
            app.issuer.sign(&id_token),
        ),
        ("alg none", unsigned),
        (
            "HS256 keyed with the public key",
            hs256(
                json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
                &valid_claims(&app),
                &public_jwk,
            ),
        ),
        ("unknown kid", unknown_key.sign(&valid_claims(&app))),
        ("tampered payload", tampered),
        ("bad base64", format!("{head}.@@@.{signature}")),
        ("missing exp", missing_exp),
        ("not a JWT", "hello".into()),
    ];
    assert_eq!(
        app.get("/me", &good).await.status(),
        200,
        "the unforged token works"
    );
    for (name, token) in cases {
        let response = app.get("/me", &token).await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap()),
            Some(r#"Bearer error="invalid_token""#),
            "{name}"
        );
        assert_problem(response, 401).await;
    }
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401() {
    let app = spawn_app().await;
    assert_problem(app.get_public("/todos").await, 401).await;
    assert_problem(app.get_public("/me").await, 401).await;
    for header in ["Basic YWxpY2U6cHc=", "Bearer", "Bearer ", "token"] {
        let response = app
            .client
            .get(app.url("/me"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_problem(response, 401).await;
    }
    // Public routes stay public without a token.
    assert_eq!(app.get_public("/healthz").await.status(), 200);
}

#[tokio::test]
async fn me_shows_the_token_identity() {
    let app = spawn_app().await;
    let token = app.token_in("alice", &["authors"]).await;
    let me: Value = app.get("/me", &token).await.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "sub": claims(&token)["sub"], "username": "alice", "groups": ["authors"] })
    );
    if app.aws.is_none() {
        assert_eq!(me["sub"], atrium::auth::local_sub("alice"));
    }
}

#[tokio::test]
async fn group_only_routes_answer_403_to_others() {
    let app = TestApp::builder()
        .with_routes(|routes| {
            routes.route(
                "/authors-only",
                get(|user: atrium::http::auth::User| async move {
                    user.require_group("authors").map(|()| "welcome")
                }),
            )
        })
        .spawn()
        .await;
    assert_eq!(
        app.get("/authors-only", &app.token_in("ann", &["authors"]).await)
            .await
            .status(),
        200
    );
    assert_problem(app.get("/authors-only", &app.token("bob").await).await, 403).await;
    assert_problem(app.get_public("/authors-only").await, 401).await;
}

/// Requests the key server has answered for its JWKS route, from its metrics.
async fn jwks_fetches(key_server: &TestApp) -> u64 {
    let text = key_server
        .get_public("/metrics")
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("atrium_http_requests_total") && l.contains("/.well-known/jwks.json")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn remote_jwks_is_fetched_once_and_refetched_at_most_once_per_cooldown() {
    // One service plays Cognito (its local issuer serves the JWKS); the
    // services under test know only the JWKS URL.
    let cognito = spawn_app().await;
    let jwks_url = cognito.url("/.well-known/jwks.json");
    let alice = cognito.token("alice").await;
    let stranger = LocalIssuer::load_or_create(tempfile::tempdir().unwrap().path()).unwrap();

    let app = TestApp::builder()
        .with_env("APP_JWKS_URL", &jwks_url)
        .with_env("APP_JWKS_REFETCH_COOLDOWN", "60s")
        .spawn()
        .await;
    let forged = stranger.sign(&valid_claims(&app));
    let answers = futures::future::join_all((0..20).map(|_| app.get("/me", &alice))).await;
    assert!(answers.iter().all(|r| r.status() == 200));
    assert_eq!(
        jwks_fetches(&cognito).await,
        1,
        "20 concurrent first requests, one fetch"
    );
    let answers = futures::future::join_all((0..20).map(|_| app.get("/me", &forged))).await;
    assert!(answers.iter().all(|r| r.status() == 401));
    assert_eq!(
        jwks_fetches(&cognito).await,
        1,
        "unknown kids within the cooldown: no refetch"
    );

    // Past the cooldown, a burst of unknown kids makes exactly one refetch.
    let app = TestApp::builder()
        .with_env("APP_JWKS_URL", &jwks_url)
        .with_env("APP_JWKS_REFETCH_COOLDOWN", "3s")
        .spawn()
        .await;
    assert_eq!(app.get("/me", &alice).await.status(), 200);
    assert_eq!(jwks_fetches(&cognito).await, 2);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let answers = futures::future::join_all((0..20).map(|_| app.get("/me", &forged))).await;
    assert!(answers.iter().all(|r| r.status() == 401));
    assert_eq!(
        jwks_fetches(&cognito).await,
        3,
        "one refetch for the whole burst"
    );
    assert_eq!(app.get("/me", &forged).await.status(), 401);
    assert_eq!(
        jwks_fetches(&cognito).await,
        3,
        "and none again within the cooldown"
    );
    assert_eq!(
        app.get("/me", &alice).await.status(),
        200,
        "known keys keep working"
    );
}

#[tokio::test]
async fn unreachable_jwks_with_no_cached_key_is_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::builder()
        .with_env("APP_JWKS_URL", &url)
        .with_env("APP_JWKS_FETCH_TIMEOUT", "1s")
        .spawn()
        .await;
    let token = app
        .issuer
        .mint(&app.config.auth, "alice", &[], Duration::from_secs(60));
    let response = app.get("/me", &token).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503).await;
}

/// A token's claims, read without verifying it.
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
