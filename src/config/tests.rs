//! Parsing the environment, and the contract with the CDK app.

use super::*;
use crate::auth::LOCAL_ISSUER;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: std::collections::HashMap<_, _> = vars.iter().copied().collect();
    Config::from_lookup(|name| map.get(name).map(|v| v.to_string()))
}

#[test]
fn nothing_set_is_the_embedded_default() {
    let c = config(&[]).unwrap();
    assert_eq!(c.store, StoreConfig::Embedded);
    assert_eq!(c.objects, ObjectsConfig::Local);
    assert!(!c.mail.ses && !c.uses_aws());
    assert_eq!(c.auth.issuer, LOCAL_ISSUER);
    assert!(c.auth.jwks_url.is_none());
}

#[test]
fn host_and_port_make_the_address_unless_app_addr_is_set() {
    assert_eq!(config(&[]).unwrap().addr.to_string(), "127.0.0.1:3000");
    let container = config(&[("APP_HOST", "0.0.0.0"), ("PORT", "8080")]).unwrap();
    assert_eq!(container.addr.to_string(), "0.0.0.0:8080");
    let both = config(&[("APP_HOST", "0.0.0.0"), ("APP_ADDR", "127.0.0.1:9")]).unwrap();
    assert_eq!(both.addr.to_string(), "127.0.0.1:9");
    assert_eq!(
        config(&[("APP_HOST", "localhost")]).unwrap_err().name,
        "APP_HOST"
    );
}

#[test]
fn lambda_is_chosen_by_the_runtime_api_variable() {
    assert_eq!(config(&[]).unwrap().runtime, Runtime::Server);
    let api = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    let http = config(&[api]).unwrap();
    assert_eq!(http.runtime, Runtime::LambdaHttp);
    assert_eq!(http.data_dir, PathBuf::from("/tmp/atrium"));
    assert!(http.log_json);
    let events = config(&[api, ("APP_LAMBDA_HANDLER", "events")]).unwrap();
    assert_eq!(events.runtime, Runtime::LambdaEvents);
    let wrong = config(&[api, ("APP_LAMBDA_HANDLER", "sqs")]).unwrap_err();
    assert_eq!(wrong.name, "APP_LAMBDA_HANDLER");
}

#[test]
fn a_cognito_pool_gives_issuer_and_jwks_url() {
    let c = config(&[
        ("APP_COGNITO_USER_POOL_ID", "eu-west-1_AbC123"),
        ("APP_COGNITO_CLIENT_IDS", "app1, app2"),
    ])
    .unwrap();
    let issuer = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123";
    assert_eq!(c.auth.issuer, issuer);
    assert_eq!(
        c.auth.jwks_url.as_deref(),
        Some(format!("{issuer}/.well-known/jwks.json").as_str())
    );
    assert_eq!(c.auth.client_ids, ["app1", "app2"]);

    let emulated = config(&[
        ("APP_COGNITO_USER_POOL_ID", "us-east-1_x"),
        ("APP_COGNITO_CLIENT_IDS", "c"),
        (
            "APP_JWKS_URL",
            "http://127.0.0.1:5000/us-east-1_x/.well-known/jwks.json",
        ),
    ])
    .unwrap();
    assert!(
        emulated
            .auth
            .jwks_url
            .unwrap()
            .starts_with("http://127.0.0.1")
    );
    assert!(
        emulated
            .auth
            .issuer
            .starts_with("https://cognito-idp.us-east-1.")
    );
}

#[test]
fn bad_values_name_their_variable() {
    let cases: &[&[(&str, &str)]] = &[
        &[("APP_STORE", "postgres")],
        &[("APP_COGNITO_USER_POOL_ID", "eu-west-1_AbC")],
        &[
            ("APP_COGNITO_USER_POOL_ID", "../evil"),
            ("APP_COGNITO_CLIENT_IDS", "c"),
        ],
        &[("APP_CACHE_TTL", "soon")],
    ];
    let expected = [
        "APP_STORE",
        "APP_COGNITO_CLIENT_IDS",
        "APP_COGNITO_USER_POOL_ID",
        "APP_CACHE_TTL",
    ];
    for (vars, name) in cases.iter().zip(expected) {
        assert_eq!(config(vars).unwrap_err().name, name, "{vars:?}");
    }
}

#[test]
fn aws_backends_are_chosen_by_their_variables() {
    let c = config(&[
        ("APP_STORE", "dynamodb"),
        ("APP_BUCKET", "files"),
        ("APP_MAIL_FROM", "news@example.com"),
    ])
    .unwrap();
    assert_eq!(
        c.store,
        StoreConfig::Dynamo {
            table: "atrium".into()
        }
    );
    assert_eq!(
        c.objects,
        ObjectsConfig::S3 {
            bucket: "files".into()
        }
    );
    assert!(c.mail.ses && c.uses_aws());
}

/// The variable names the configuration's code reads, from its source.
fn names_in_source() -> std::collections::BTreeSet<String> {
    let source = [include_str!("mod.rs"), include_str!("read.rs")].concat();
    let code: String = source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    // Every `"NAME"` literal made of capitals and underscores.
    let mut names = std::collections::BTreeSet::new();
    for (start, _) in code.match_indices('"') {
        let rest = &code[start + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        let quoted = rest[name.len()..].starts_with('"');
        let ours = name.starts_with("APP_") || name.starts_with("AWS_") || name == "PORT";
        if quoted && ours {
            names.insert(name);
        }
    }
    names
}

#[test]
fn environment_json_lists_exactly_the_variables_read() {
    // The CDK app sets only names from this file (cdk/lib/environment.ts),
    // so a rename here that the file does not follow fails this test, and a
    // rename in the file that the CDK does not follow fails its synth.
    let listed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(include_str!("environment.json")).unwrap();
    let listed: std::collections::BTreeSet<String> = listed.keys().cloned().collect();
    assert_eq!(names_in_source(), listed);
}
