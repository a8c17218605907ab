//! Library-level tests of the backends, apart from the black-box HTTP suite
//! (`tests/api`): the `Table` contract on whichever store the suite runs
//! against (the embedded one, or DynamoDB on moto with `ATRIUM_TEST_MOTO`),
//! and the read cache's semantics over a store that counts its reads.

mod cache;
// The moto fixtures the HTTP suite uses too.
#[allow(dead_code)]
#[path = "../api/emulator.rs"]
mod emulator;
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
