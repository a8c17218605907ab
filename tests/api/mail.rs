//! Outgoing mail on the backend under test (the `.eml` outbox, or SES v2 on
//! moto), read back as the recipient's mail client would parse it.

use atrium::ids::EmailAddress;
use atrium::mail::{MailError, Message};
use mail_parser::MessageParser;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// moto's whole state. Dumping it iterates every backend while other tests
/// write to them, which now and then fails inside moto (a 500 page, not
/// JSON); asking again succeeds.
async fn moto_state(app: &TestApp, moto: &str) -> Value {
    let url = format!("{moto}/moto-api/data.json");
    for _ in 0..10 {
        let response = app.client.get(&url).send().await.unwrap();
        if let Ok(state) = response.json::<Value>().await {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("moto's state dump kept failing");
}

/// Every message sent so far, as raw MIME.
pub async fn sent(app: &TestApp) -> Vec<Vec<u8>> {
    match &app.aws {
        Some(aws) => {
            let data = moto_state(app, &aws.url).await;
            data["ses"]["RawMessage"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["raw_data"].as_str())
                .map(|raw| raw.as_bytes().to_vec())
                .collect()
        }
        None => {
            let outbox = app.config.data_dir.join("outbox");
            let mut files: Vec<_> = std::fs::read_dir(outbox)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .collect();
            files.sort();
            files
                .into_iter()
                .map(|p| std::fs::read(p).unwrap())
                .collect()
        }
    }
}

#[tokio::test]
async fn a_message_arrives_with_text_and_html_parts() {
    let app = spawn_app().await;
    let to = format!(
        "reader-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let message = Message {
        to: to.parse().unwrap(),
        subject: "Welcome to the blog — ünïcode".into(),
        text: "Thanks for subscribing.".into(),
        html: "<p>Thanks for <b>subscribing</b>.</p>".into(),
        headers: vec![(
            "List-Unsubscribe".into(),
            "<https://example.com/u/t0k3n>".into(),
        )],
    };
    app.backends().mailer.send(&message).await.unwrap();

    let all = sent(&app).await;
    let raw = all
        .iter()
        .find(|raw| String::from_utf8_lossy(raw).contains(&to))
        .expect("the message was sent");
    let parsed = MessageParser::default().parse(raw).unwrap();
    assert_eq!(parsed.subject(), Some(message.subject.as_str()));
    assert_eq!(
        parsed.body_text(0).as_deref().map(str::trim),
        Some(message.text.as_str())
    );
    assert_eq!(
        parsed.body_html(0).as_deref().map(str::trim),
        Some(message.html.as_str())
    );
    let unsubscribe = parsed.header_raw("List-Unsubscribe").unwrap();
    assert_eq!(unsubscribe.trim(), "<https://example.com/u/t0k3n>");
}

#[tokio::test]
async fn bad_addresses_and_header_injection_are_refused_before_sending() {
    let app = spawn_app().await;
    // Its own recipient: other tests send mail to the same emulator meanwhile.
    let recipient = format!("{}@example.com", crate::emulator::unique("injection"));
    // A bad recipient cannot even be written down: the address type refuses it.
    for bad in ["not-an-address", "a@example.com\r\nBcc: all@example.com"] {
        assert!(bad.parse::<EmailAddress>().is_err(), "{bad:?}");
    }
    let base = Message {
        to: recipient.parse().unwrap(),
        subject: "s".into(),
        text: "t".into(),
        html: "h".into(),
        headers: vec![],
    };
    let bad = [
        Message {
            subject: "hi\nBcc: all@example.com".into(),
            ..base.clone()
        },
        Message {
            headers: vec![(
                "List-Unsubscribe".into(),
                "<a>\r\nBcc: all@example.com".into(),
            )],
            ..base.clone()
        },
    ];
    for message in bad {
        let result = app.backends().mailer.send(&message).await;
        assert!(matches!(result, Err(MailError::Invalid(_))), "{message:?}");
    }
    assert_eq!(sent_to(&app, &recipient).await, 0, "nothing was sent");
}

/// How many messages went to `recipient`.
async fn sent_to(app: &TestApp, recipient: &str) -> usize {
    if app.aws.is_none() && !app.config.data_dir.join("outbox").exists() {
        return 0;
    }
    let needle = recipient.as_bytes();
    let sent = sent(app).await;
    sent.iter()
        .filter(|raw| raw.windows(needle.len()).any(|w| w == needle))
        .count()
}
