//! Black-box tests over HTTP: each test starts the real router on a random
//! port with a fresh data directory (see `helpers::spawn_app`) and checks
//! what a client sees. (The backends' library-level tests are
//! `tests/backends`.) With `ATRIUM_TEST_MOTO` set (as `./scripts/test` does
//! in its second pass) the same tests run against DynamoDB, S3, SES v2 and
//! Cognito on a moto server (see `emulator`).

mod account;
mod auth;
mod aws;
mod batch;
mod blog;
mod contract;
mod durability;
mod emulator;
mod errors;
mod helpers;
mod lambda;
mod load;
mod mail;
mod photos;
mod response_cache;
mod site;
mod subscribers;
mod sync;
mod throttle;
mod todos;
mod uploads;
