//! Uploads end to end: ask for a URL, PUT the bytes with a plain HTTP
//! client, let the completion reaction run (locally the object store's own
//! notification; against moto the test plays Lambda and delivers the S3
//! event), then read the result and the thumbnails back.

use std::io::Cursor;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

/// A PNG of `width`×`height` with a gradient (so it compresses like a photo
/// would not, but decodes quickly).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes
}

/// A valid PNG header that declares 50,000 × 50,000 pixels, with a few bytes
/// of data: a decompression bomb's first move.
fn png_bomb() -> Vec<u8> {
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }
    let mut header = Vec::new();
    header.extend_from_slice(&50_000u32.to_be_bytes());
    header.extend_from_slice(&50_000u32.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(chunk(b"IHDR", &header));
    bytes.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    bytes.extend(chunk(b"IEND", &[]));
    bytes
}

/// A `width`×`height` JPEG whose EXIF says "rotate 90° clockwise to view"
/// (orientation 6), as phones write them.
fn jpeg_rotated(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([200, 100, 50]));
    let mut plain = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut plain), image::ImageFormat::Jpeg)
        .unwrap();
    // TIFF header (little-endian), one IFD entry: Orientation (0x0112) = 6.
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0\x01\0".to_vec();
    exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    let mut bytes = plain[..2].to_vec(); // SOI
    bytes.extend_from_slice(&[0xFF, 0xE1]);
    bytes.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    bytes.extend_from_slice(&exif);
    bytes.extend_from_slice(&plain[2..]);
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Delivers the S3 ObjectCreated event for a ticket's object, as Lambda
/// would (S3 sends keys form-encoded); locally the store notifies by itself.
pub async fn deliver_s3_event(app: &TestApp, ticket: &Value) {
    let Some(aws) = &app.aws else { return };
    let url = reqwest::Url::parse(ticket["url"].as_str().unwrap()).unwrap();
    let encoded_key = url
        .path()
        .strip_prefix(&format!("/{}/", aws.bucket))
        .unwrap()
        .replace("%20", "+");
    let event = json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "1", "x-amz-id-2": "2"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
            "bucket": {"name": aws.bucket, "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": format!("arn:aws:s3:::{}", aws.bucket)},
            "object": {"key": encoded_key, "size": 1, "eTag": "0", "sequencer": "0"}}
    }]});
    let answer = atrium::runtime::events::dispatch(app.app.reactions(), &event).await;
    assert_eq!(answer, Ok(json!({})), "the S3 event is handled");
}

/// Creates, sends and completes an upload; returns its final state.
pub async fn upload(app: &TestApp, token: &str, name: &str, kind: &str, bytes: Vec<u8>) -> Value {
    let request = json!({"filename": name, "content_type": kind, "size": bytes.len()});
    let ticket = app.upload_ticket(token, request).await;
    assert_eq!(ticket["method"], "PUT");
    let sent = app.send_upload(&ticket, bytes).await;
    // The local store refuses wrong bytes as they arrive (415); S3 takes
    // them, and completion refuses them. Either way the upload fails.
    assert!(
        sent.status().is_success() || sent.status() == 415,
        "{}",
        sent.status()
    );
    deliver_s3_event(app, &ticket).await;
    app.settled_upload(token, ticket["id"].as_str().unwrap())
        .await
}

pub async fn download(app: &TestApp, signed: &Value) -> Vec<u8> {
    let response = app
        .client
        .get(signed["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn an_image_is_stored_checked_and_thumbnailed() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let original = png(2000, 1000);
    let done = upload(
        &app,
        &alice,
        "holiday photo.png",
        "image/png",
        original.clone(),
    )
    .await;
    assert_eq!(done["status"], "ready", "{done}");
    assert_eq!(done["filename"], "holiday photo.png");
    assert_eq!(download(&app, &done["download"]).await, original);

    let thumbnails = done["thumbnails"].as_array().unwrap();
    let sizes: Vec<_> = thumbnails
        .iter()
        .map(|t| (t["width"].clone(), t["height"].clone()))
        .collect();
    assert_eq!(sizes, [(json!(256), json!(128)), (json!(1024), json!(512))]);
    for thumbnail in thumbnails {
        let bytes = download(&app, &thumbnail["download"]).await;
        let decoded = image::load_from_memory(&bytes).unwrap();
        assert_eq!(decoded.width(), thumbnail["width"].as_u64().unwrap() as u32);
        assert_eq!(
            decoded.height(),
            thumbnail["height"].as_u64().unwrap() as u32
        );
        assert_eq!(
            image::guess_format(&bytes).unwrap(),
            image::ImageFormat::Jpeg
        );
    }
    let listed: Value = app.get("/uploads", &alice).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn thumbnails_follow_exif_orientation_and_carry_no_metadata() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let done = upload(
        &app,
        &alice,
        "phone.jpg",
        "image/jpeg",
        jpeg_rotated(200, 100),
    )
    .await;
    assert_eq!(done["status"], "ready", "{done}");
    let small = &done["thumbnails"][0];
    assert_eq!(
        (small["width"].clone(), small["height"].clone()),
        (json!(100), json!(200))
    );
    let bytes = download(&app, &small["download"]).await;
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "metadata is dropped"
    );
}

#[tokio::test]
async fn content_that_is_not_what_it_claims_fails() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let cases = [
        ("report.pdf", "application/pdf", png(10, 10)),
        (
            "cat.jpg",
            "image/jpeg",
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec(),
        ),
        ("notes.txt", "text/plain", b"binary\0junk".to_vec()),
    ];
    for (name, kind, bytes) in cases {
        let done = upload(&app, &alice, name, kind, bytes).await;
        assert_eq!(done["status"], "failed", "{name}");
        assert!(done["reason"].as_str().unwrap().contains("not"), "{done}");
        assert!(done.get("download").is_none(), "nothing to download");
    }
}

#[tokio::test]
async fn a_decompression_bomb_fails_fast() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let started = std::time::Instant::now();
    let done = upload(&app, &alice, "bomb.png", "image/png", png_bomb()).await;
    assert_eq!(done["status"], "failed");
    assert!(
        done["reason"].as_str().unwrap().contains("too large"),
        "{done}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused from the header"
    );
}

#[tokio::test]
async fn requests_are_validated_and_names_stay_in_the_folder() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bad = json!({"filename": "", "content_type": "application/x-msdownload", "size": 0});
    let problem = assert_problem(app.create_upload(Some(&alice), bad).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, ["content_type", "filename", "size"]);
    let huge =
        json!({"filename": "a.png", "content_type": "image/png", "size": 25 * 1024 * 1024 + 1});
    assert_problem(app.create_upload(Some(&alice), huge).await, 422).await;
    assert_problem(app.create_upload(None, json!({})).await, 401).await;

    for (name, kept) in [
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("/users/bob/x.txt", "x.txt"),
        ("evil\u{202E}txt.exe", "eviltxt.exe"),
        ("a\u{2060}b\u{00AD}c\u{E0041}.txt", "abc.txt"),
        ("..", "file"),
        ("cafe\u{0301}.txt", "caf%C3%A9.txt"),
    ] {
        let ticket = app
            .upload_ticket(
                &alice,
                json!({"filename": name, "content_type": "text/plain", "size": 3}),
            )
            .await;
        let url = ticket["url"].as_str().unwrap();
        let id = ticket["id"].as_str().unwrap();
        assert!(
            url.contains(&format!("/uploads/{id}/{kept}")),
            "{name:?} → {url}"
        );
        assert!(!url.contains("users/bob"), "{url}");
    }
}

#[tokio::test]
async fn one_user_never_sees_or_deletes_anothers_upload() {
    let app = spawn_app().await;
    let (alice, bob) = (app.token("alice").await, app.token("bob").await);
    let done = upload(&app, &alice, "a.txt", "text/plain", b"hi!".to_vec()).await;
    let id = done["id"].as_str().unwrap();
    let path = format!("/uploads/{id}");
    assert_problem(app.get(&path, &bob).await, 404).await;
    let deleted = app.delete_upload(&bob, id).await;
    assert_problem(deleted, 404).await;
    let listed: Value = app.get("/uploads", &bob).await.json().await.unwrap();
    assert_eq!(listed["items"], json!([]));

    let gone = app.delete_upload(&alice, id).await;
    assert_eq!(gone.status(), 204);
    assert_problem(app.get(&path, &alice).await, 404).await;
}

#[tokio::test]
async fn a_redelivered_event_changes_nothing_and_urls_are_single_use_locally() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let bytes = png(300, 200);
    let request = json!({"filename": "p.png", "content_type": "image/png", "size": bytes.len()});
    let ticket = app.upload_ticket(&alice, request).await;
    assert!(
        app.send_upload(&ticket, bytes.clone())
            .await
            .status()
            .is_success()
    );
    deliver_s3_event(&app, &ticket).await;
    let first = app
        .settled_upload(&alice, ticket["id"].as_str().unwrap())
        .await;
    deliver_s3_event(&app, &ticket).await;
    let again = app
        .settled_upload(&alice, ticket["id"].as_str().unwrap())
        .await;
    assert_eq!(first["status"], "ready");
    // 300 × 200: the 256 thumbnail only (a 1,024 one would be enlarged).
    assert_eq!(first["thumbnails"].as_array().unwrap().len(), 1);
    let sizes = |upload: &Value| {
        let thumbnails = upload["thumbnails"].as_array().unwrap();
        thumbnails
            .iter()
            .map(|t| (t["width"].clone(), t["height"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(&again), sizes(&first));
    if app.aws.is_none() {
        // The local store refuses a second use of an upload URL.
        assert_problem(app.send_upload(&ticket, bytes).await, 403).await;
    }
}

#[tokio::test]
async fn bytes_replaced_after_completion_are_checked_again() {
    let app = spawn_app().await;
    let alice = app.token("alice").await;
    let request = json!({"filename": "t.txt", "content_type": "text/plain", "size": 3});
    let ticket = app.upload_ticket(&alice, request).await;
    app.send_upload(&ticket, b"hi!".to_vec()).await;
    deliver_s3_event(&app, &ticket).await;
    let id = ticket["id"].as_str().unwrap();
    assert_eq!(app.settled_upload(&alice, id).await["status"], "ready");

    let second = app.send_upload(&ticket, b"\0\0\0".to_vec()).await;
    if app.aws.is_none() {
        assert_eq!(second.status(), 403, "local URLs are single-use");
        return;
    }
    // S3 accepts the reused URL (moto as S3 does); the event re-checks it.
    assert!(second.status().is_success());
    deliver_s3_event(&app, &ticket).await;
    let after: Value = app
        .get(&format!("/uploads/{id}"), &alice)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "failed", "{after}");
    assert!(after.get("download").is_none());
}
