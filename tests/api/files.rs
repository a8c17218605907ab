//! The object store behind presigned URLs, on the backend under test (local
//! files, or S3 on moto), used the way a client uses it: plain HTTP to the
//! URL the service signed.

use std::time::Duration;

use atrium::objects::{Folder, Presigned};
use bytes::Bytes;
use reqwest::Method;

use crate::helpers::{TestApp, spawn_app};

fn folder(app: &TestApp, prefix: &str) -> Folder {
    Folder::new(app.backends().objects.clone(), prefix).unwrap()
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
    let alice = folder(&app, "users/alice/");
    let body: &'static [u8] = b"hello, presigned world";
    let put = alice
        .presign_put(
            "notes/hello.txt",
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

    let get = alice
        .presign_get("notes/hello.txt", Duration::from_secs(60))
        .await
        .unwrap();
    let downloaded = send(&app, &get, b"").await;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap(), body);
    let stored = alice.get("notes/hello.txt").await.unwrap().unwrap();
    assert_eq!(stored.content_type.as_deref(), Some("text/plain"));
}

#[tokio::test]
async fn a_folder_sees_and_touches_only_its_own_objects() {
    let app = spawn_app().await;
    let (alice, bob) = (folder(&app, "users/alice/"), folder(&app, "users/bob/"));
    for name in ["a.txt", "sub/b.txt"] {
        alice
            .put(name, Bytes::from_static(b"alice's"), "text/plain")
            .await
            .unwrap();
    }
    bob.put("a.txt", Bytes::from_static(b"bob's"), "text/plain")
        .await
        .unwrap();
    // A sibling whose name merely starts like alice's folder.
    folder(&app, "users/alice-evil/")
        .put("x.txt", Bytes::from_static(b"x"), "text/plain")
        .await
        .unwrap();

    let listed: Vec<_> = alice
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(listed, ["a.txt", "sub/b.txt"]);
    for escape in [
        "../bob/a.txt",
        "sub/../../bob/a.txt",
        "/users/bob/a.txt",
        "",
        "a\\..\\b",
    ] {
        assert!(
            alice.get(escape).await.is_err(),
            "{escape:?} must be refused"
        );
        assert!(
            alice.delete(escape).await.is_err(),
            "{escape:?} must be refused"
        );
        let signed = alice.presign_get(escape, Duration::from_secs(60)).await;
        assert!(signed.is_err(), "{escape:?} must not be signed");
    }
    alice.delete("a.txt").await.unwrap();
    alice.delete("a.txt").await.unwrap(); // deleting twice is fine, as on S3
    assert!(alice.get("a.txt").await.unwrap().is_none());
    let bobs = bob.get("a.txt").await.unwrap().unwrap();
    assert_eq!(bobs.body, Bytes::from_static(b"bob's"));
}

/// Local URLs are checked by our own signing code (moto never checks S3
/// signatures, so this is where rejection is tested).
#[tokio::test]
async fn local_urls_refuse_tampering_expiry_and_other_sizes() {
    // An empty APP_BUCKET selects the local store on either backend.
    let app = TestApp::builder().with_env("APP_BUCKET", "").spawn().await;
    assert!(app.backends().local_objects.is_some());
    let alice = folder(&app, "users/alice/");
    let put = alice
        .presign_put(
            "x.bin",
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

    let get = alice
        .presign_get("x.bin", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(send(&app, &get, b"").await.status(), 200);
    let as_put = Presigned {
        method: "PUT".into(),
        ..get.clone()
    };
    assert_eq!(
        send(&app, &as_put, b"").await.status(),
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
