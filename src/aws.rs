//! The one AWS SDK configuration of the process, shared by every client.
//!
//! Region, credentials and endpoint come from the SDK's standard chain;
//! `AWS_ENDPOINT_URL` and `AWS_REGION` are also applied explicitly from our
//! [`AwsConfig`] so that a test can point one service at one emulator without
//! touching the process environment. Timeouts are set so that an unreachable
//! endpoint fails within seconds (after the SDK's standard retries, 3
//! attempts with backoff) and the request is answered 503, instead of hanging
//! until the request timeout.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
// One error type and one raw response type across the SDK crates; the
// DynamoDB crate re-exports them.
pub use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// What the AWS SDK gets from us rather than from its own chain. Both are the
/// SDK's standard variables, read through the same lookup as the rest of the
/// configuration so tests can point one service at one emulator.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsConfig {
    /// `AWS_ENDPOINT_URL`: an emulator instead of AWS.
    pub endpoint_url: Option<String>,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
}

/// How long one attempt may take to connect, and to complete.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one operation may take with all its retries.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(12);

/// Loads the SDK configuration. Credentials are resolved lazily, on the
/// first request, so start-up does not wait on a credentials provider.
pub async fn load(config: &AwsConfig) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(url) = &config.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    if let Some(region) = &config.region {
        loader = loader.region(Region::new(region.clone()));
    }
    loader.load().await
}

/// What went wrong with an SDK call, in the terms our own error types need.
pub struct SdkFailure {
    /// The service's error code, when the service answered.
    pub code: Option<String>,
    /// Trying again later can succeed: throttling, a timeout, an unreachable
    /// endpoint or a server-side fault, any 5xx included (after the SDK's
    /// own retries).
    pub transient: bool,
    /// The whole error chain, for the log (never for a response body).
    pub detail: String,
}

/// Service codes, across DynamoDB, S3 and SES, that mean "later".
const TRANSIENT_CODES: &[&str] = &[
    // DynamoDB
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "InternalServerError",
    "TransactionConflictException",
    "TransactionInProgressException",
    // S3
    "SlowDown",
    "InternalError",
    "RequestTimeout",
    // SES v2
    "TooManyRequestsException",
    "LimitExceededException",
    "SendingPausedException",
    // any
    "ServiceUnavailable",
];

/// Classifies an SDK error.
pub fn failure<E>(error: &SdkError<E, HttpResponse>) -> SdkFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = match error {
        SdkError::ServiceError(service) => service.err().code().map(str::to_string),
        _ => None,
    };
    let transient = match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) if service.raw().status().is_server_error() => true,
        _ => code
            .as_deref()
            .is_some_and(|c| TRANSIENT_CODES.contains(&c)),
    };
    SdkFailure {
        code,
        transient,
        detail: DisplayErrorContext(error).to_string(),
    }
}
