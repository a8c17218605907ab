//! The `ObjectStore` contract on the backend under test (local files behind
//! the service's own `/files` URLs, or S3 on moto), with presigned URLs used
//! the way a client uses them: plain HTTP to the URL the service signed.

use std::sync::Arc;
use std::time::Duration;

use atrium::objects::{ObjectStore, Presigned};
use bytes::Bytes;
use reqwest::Method;

use crate::helpers::{TestApp, spawn_app};

fn objects(app: &TestApp) -> Arc<dyn ObjectStore> {
    app.backends().objects.clone()
}

/// Sends what a presigned request says, with `body`.
async fn send(app: &TestApp, signed: &Presigned, body: &'static [u8]) -> reqwest::Response {
    let method = Method::from_bytes(signed.method.as_bytes()).unwrap();
    let mut request = app.client.request(method, &signed.url);
    for (name, value) in &signed.headers {
        if !name.eq_ignore_ascii_case("host") {
            request = request.header(name, value);
        }
    }
    request.body(body).send().await.unwrap()
}

#[tokio::test]
async fn presigned_urls_upload_and_download() {
    let app = spawn_app().await;
    let store = objects(&app);
    let body: &'static [u8] = b"hello, presigned world";
    let put = store
        .presign_put(
            "users/alice/notes/hello.txt",
            "text/plain",
            body.len() as u64,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    assert!(
        put.url.contains("users/alice/notes/hello.txt"),
        "{}",
        put.url
    );
    let uploaded = send(&app, &put, body).await;
    assert!(uploaded.status().is_success(), "{}", uploaded.status());

    let get = store
        .presign_get("users/alice/notes/hello.txt", Duration::from_secs(60))
        .await
        .unwrap();
    let downloaded = send(&app, &get, b"").await;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap(), body);
    let stored = store
        .get("users/alice/notes/hello.txt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.content_type.as_deref(), Some("text/plain"));
}

#[tokio::test]
async fn a_prefix_lists_only_its_own_objects_and_bad_keys_are_refused() {
    let app = spawn_app().await;
    let store = objects(&app);
    let put = async |key: &str, body: &'static [u8]| {
        let body = Bytes::from_static(body);
        store.put(key, body, "text/plain").await.unwrap()
    };
    put("users/alice/a.txt", b"alice's").await;
    put("users/alice/sub/b.txt", b"alice's").await;
    put("users/bob/a.txt", b"bob's").await;
    // A sibling whose name merely starts like alice's folder.
    put("users/alice-evil/x.txt", b"x").await;

    let listed: Vec<_> = store.list("users/alice/").await.unwrap();
    let keys: Vec<_> = listed.into_iter().map(|o| o.key).collect();
    assert_eq!(keys, ["users/alice/a.txt", "users/alice/sub/b.txt"]);
    for bad in [
        "users/alice/../bob/a.txt",
        "/users/bob/a.txt",
        "",
        "a\\..\\b",
        "a//b",
    ] {
        assert!(store.get(bad).await.is_err(), "{bad:?} must be refused");
        assert!(store.delete(bad).await.is_err(), "{bad:?} must be refused");
        let signed = store.presign_get(bad, Duration::from_secs(60)).await;
        assert!(signed.is_err(), "{bad:?} must not be signed");
    }
    store.delete("users/alice/a.txt").await.unwrap();
    store.delete("users/alice/a.txt").await.unwrap(); // twice is fine, as on S3
    assert!(store.get("users/alice/a.txt").await.unwrap().is_none());
    let bobs = store.get("users/bob/a.txt").await.unwrap().unwrap();
    assert_eq!(bobs.body, Bytes::from_static(b"bob's"));
}

/// Local URLs are checked by our own signing code (moto never checks S3
/// signatures, so this is where rejection is tested).
#[tokio::test]
async fn local_urls_refuse_tampering_expiry_and_other_sizes() {
    // An empty APP_BUCKET selects the local store on either backend.
    let app = TestApp::builder().with_env("APP_BUCKET", "").spawn().await;
    assert!(app.backends().local_objects.is_some());
    let store = objects(&app);
    let put = store
        .presign_put(
            "users/alice/x.bin",
            "application/octet-stream",
            4,
            Duration::from_secs(60),
        )
        .await
        .unwrap();

    let tampered = Presigned {
        url: put.url.replace("users/alice/", "users/bob/"),
        ..put.clone()
    };
    assert_eq!(send(&app, &tampered, b"1234").await.status(), 403);
    // The client declares (and sends) 5 bytes where 4 were signed.
    let longer = Presigned {
        headers: vec![("content-type".into(), "application/octet-stream".into())],
        ..put.clone()
    };
    assert_eq!(
        send(&app, &longer, b"12345").await.status(),
        403,
        "the signed length differs"
    );
    let other_type = Presigned {
        headers: vec![("content-type".into(), "text/html".into())],
        ..put.clone()
    };
    assert_eq!(send(&app, &other_type, b"1234").await.status(), 403);
    let unsigned = Presigned {
        url: put.url.split('?').next().unwrap().to_string(),
        ..put.clone()
    };
    assert_eq!(send(&app, &unsigned, b"1234").await.status(), 403);
    assert_eq!(send(&app, &put, b"1234").await.status(), 200);

    let get = store
        .presign_get("users/alice/x.bin", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(send(&app, &get, b"").await.status(), 200);
    let as_put = Presigned {
        method: "PUT".into(),
        ..get.clone()
    };
    assert_eq!(
        send(&app, &as_put, b"1234").await.status(),
        403,
        "GET URL used to PUT"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = send(&app, &get, b"").await;
    assert_eq!(expired.status(), 403);
    assert_eq!(
        expired.headers()["content-type"],
        "application/problem+json"
    );
}
