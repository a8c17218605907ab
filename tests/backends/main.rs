//! Library-level tests of the backends, apart from the black-box HTTP suite
//! (`tests/api`): the `Table` contract on whichever store the suite runs
//! against (the embedded one, or DynamoDB on moto with `ATRIUM_TEST_MOTO`),
//! the read cache's semantics over a store that counts its reads, and the
//! `ObjectStore` contract with its presigned URLs (local or S3 on moto),
//! and the threads that run photo work.

mod cache;
mod cache_memo;
mod cache_pages;
// The moto fixtures and the service harness the HTTP suite uses too.
#[allow(dead_code)]
#[path = "../api/emulator.rs"]
mod emulator;
#[allow(dead_code, unused_imports)]
#[path = "../api/helpers/mod.rs"]
mod helpers;
mod large_work;
mod objects;
mod store;

use serde_json::{Value, json};

/// An item with keys `pk`/`sk` and the attributes of `extra` (a JSON object).
pub fn item(pk: &str, sk: &str, extra: Value) -> atrium::store::Item {
    let mut item = json!({ "PK": pk, "SK": sk });
    item.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    item.as_object().unwrap().clone()
}
