//! The AWS emulator the suite runs against when `ATRIUM_TEST_MOTO` names a
//! moto server (`./scripts/test` starts one): each test gets its own table
//! (created by the real `migrate` code), its own bucket and its own Cognito
//! user pool, so tests run in parallel without seeing each other's data.
//!
//! Cognito users are made through the Cognito API as an operator would
//! (AdminCreateUser, a permanent password, groups) and sign in with
//! USER_PASSWORD_AUTH; the service verifies the access tokens moto issues
//! against moto's JWKS.

use std::collections::HashSet;

use atrium::aws::AwsConfig;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The moto server's base URL, when the suite runs against AWS emulators.
pub fn moto_url() -> Option<String> {
    std::env::var("ATRIUM_TEST_MOTO")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The region every emulated resource lives in.
pub const REGION: &str = "us-east-1";

/// The sender address; its domain is verified in SES before sending.
pub const MAIL_FROM: &str = "noreply@atrium.test";

/// A unique, lower-case name for a per-test resource.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The SDK configuration the tests use to set up resources.
pub async fn sdk(url: &str) -> aws_config::SdkConfig {
    atrium::aws::load(&AwsConfig {
        endpoint_url: Some(url.into()),
        region: Some(REGION.into()),
    })
    .await
}

/// One test's AWS resources.
pub struct AwsFixture {
    pub url: String,
    pub table: String,
    pub bucket: String,
    pub cognito: CognitoPool,
}

impl AwsFixture {
    pub async fn create(url: &str) -> Self {
        let sdk = sdk(url).await;
        let table = unique("todos");
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        atrium::store::migrations::migrate(&dynamo, &table)
            .await
            .expect("migrate a fresh table");
        let bucket = unique("files");
        s3_client(&sdk)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create bucket");
        verify_mail_domain(&sdk).await;
        Self {
            url: url.into(),
            table,
            bucket,
            cognito: CognitoPool::create(url).await,
        }
    }

    /// The service's configuration for these resources.
    pub fn vars(&self) -> Vec<(String, String)> {
        let pool = &self.cognito;
        [
            ("APP_STORE", "dynamodb".to_string()),
            ("APP_TABLE", self.table.clone()),
            ("APP_BUCKET", self.bucket.clone()),
            ("APP_MAIL_FROM", MAIL_FROM.into()),
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_REGION", REGION.into()),
            ("APP_COGNITO_USER_POOL_ID", pool.pool_id.clone()),
            ("APP_COGNITO_CLIENT_IDS", pool.client_id.clone()),
            // moto serves the JWKS itself; the issuer stays the real AWS URL.
            (
                "APP_JWKS_URL",
                format!("{}/{}/.well-known/jwks.json", self.url, pool.pool_id),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// SES refuses to send from an unverified identity.
async fn verify_mail_domain(sdk: &aws_config::SdkConfig) {
    let domain = MAIL_FROM.split_once('@').unwrap().1;
    let result = aws_sdk_sesv2::Client::new(sdk)
        .create_email_identity()
        .email_identity(domain)
        .send()
        .await;
    if let Err(error) = result {
        use aws_sdk_sesv2::error::ProvideErrorMetadata as _;
        assert_eq!(
            error.code(),
            Some("AlreadyExistsException"),
            "verify {domain}: {error:?}"
        );
    }
}

/// A Cognito user pool with one app client and the `authors` and `editors`
/// groups.
pub struct CognitoPool {
    url: String,
    pub pool_id: String,
    pub client_id: String,
    http: reqwest::Client,
    users: Mutex<HashSet<String>>,
}

const PASSWORD: &str = "Correct-horse-battery-9";

impl CognitoPool {
    pub async fn create(url: &str) -> Self {
        let mut pool = Self {
            url: url.into(),
            pool_id: String::new(),
            client_id: String::new(),
            http: reqwest::Client::new(),
            users: Mutex::new(HashSet::new()),
        };
        let created = pool
            .call("CreateUserPool", json!({ "PoolName": unique("pool") }))
            .await;
        pool.pool_id = created["UserPool"]["Id"].as_str().unwrap().into();
        let client = pool
            .call(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": pool.pool_id,
                    "ClientName": "mobile",
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                }),
            )
            .await;
        pool.client_id = client["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .into();
        for group in ["authors", "editors"] {
            pool.call(
                "CreateGroup",
                json!({ "UserPoolId": pool.pool_id, "GroupName": group }),
            )
            .await;
        }
        pool
    }

    /// Signs `user` in (creating them and adding them to `groups` first)
    /// and returns the access token Cognito issues.
    pub async fn token(&self, user: &str, groups: &[&str]) -> String {
        let pool = &self.pool_id;
        if self.users.lock().await.insert(user.to_string()) {
            self.call(
                "AdminCreateUser",
                json!({ "UserPoolId": pool, "Username": user, "MessageAction": "SUPPRESS" }),
            )
            .await;
            self.call(
                "AdminSetUserPassword",
                json!({ "UserPoolId": pool, "Username": user, "Password": PASSWORD, "Permanent": true }),
            )
            .await;
        }
        for group in groups {
            self.call(
                "AdminAddUserToGroup",
                json!({ "UserPoolId": pool, "Username": user, "GroupName": group }),
            )
            .await;
        }
        let signed_in = self
            .call(
                "InitiateAuth",
                json!({
                    "ClientId": self.client_id,
                    "AuthFlow": "USER_PASSWORD_AUTH",
                    "AuthParameters": { "USERNAME": user, "PASSWORD": PASSWORD },
                }),
            )
            .await;
        signed_in["AuthenticationResult"]["AccessToken"]
            .as_str()
            .expect("an access token")
            .into()
    }

    async fn call(&self, action: &str, body: Value) -> Value {
        let target = format!("AWSCognitoIdentityProviderService.{action}");
        json_api(&self.http, &self.url, "cognito-idp", &target, body).await
    }
}

/// One call of an AWS JSON-protocol API on moto. (moto does not check
/// request signatures, so the test harness skips SigV4 here rather than
/// compiling two more SDK crates, Cognito and DynamoDB Streams, for setup.)
async fn json_api(
    http: &reqwest::Client,
    url: &str,
    service: &str,
    target: &str,
    body: Value,
) -> Value {
    let response = http
        .post(format!("{url}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, \
                 SignedHeaders=host, Signature=0"
            ),
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{target}: {status} {answer}");
    answer
}

impl AwsFixture {
    /// Every record of the table's DynamoDB stream so far, as the Lambda
    /// event that would deliver them (`{"Records": [...]}`).
    pub async fn stream_event(&self) -> Value {
        let client = aws_sdk_dynamodb::Client::new(&sdk(&self.url).await);
        let described = client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .unwrap();
        let arn = described
            .table
            .unwrap()
            .latest_stream_arn
            .expect("the stream is on");
        let http = reqwest::Client::new();
        let streams = |action: &str, body: Value| {
            let target = format!("DynamoDBStreams_20120810.{action}");
            let http = http.clone();
            async move { json_api(&http, &self.url, "dynamodb", &target, body).await }
        };
        let stream = streams("DescribeStream", json!({ "StreamArn": arn })).await;
        let mut records = Vec::new();
        for shard in stream["StreamDescription"]["Shards"].as_array().unwrap() {
            let iterator = streams(
                "GetShardIterator",
                json!({ "StreamArn": arn, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON" }),
            )
            .await;
            let mut next = iterator["ShardIterator"].clone();
            while next.is_string() {
                let page = streams("GetRecords", json!({ "ShardIterator": next })).await;
                let found = page["Records"].as_array().cloned().unwrap_or_default();
                if found.is_empty() {
                    break;
                }
                records.extend(found);
                next = page["NextShardIterator"].clone();
            }
        }
        json!({ "Records": records })
    }
}
