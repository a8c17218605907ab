//! Your data, as app stores and privacy law ask: `GET /me/export` hands
//! over everything the service holds about the caller, `DELETE /me` erases
//! it. Both start from the caller's partition (`USER#{sub}`), which holds
//! or points at all of it ([`crate::keys`]): todos, their change log and
//! counter, batch answers, idempotency records, uploads (whose objects live
//! under the caller's folder) and pointers to the posts they wrote.
//!
//! The Cognito user itself is not the service's to delete: the app deletes
//! it through Cognito's `DeleteUser` with the user's own access token,
//! after `DELETE /me` succeeded.

mod erase;
mod export;

use std::sync::Arc;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::objects::ObjectStore;
use crate::store::Table;

/// What the account routes use.
#[derive(Clone)]
pub struct AccountState {
    /// The table, behind its read cache (erasing through it retires what
    /// the cache holds of the caller).
    pub table: Arc<dyn Table>,
    /// Where uploads' bytes live.
    pub objects: Arc<dyn ObjectStore>,
}

/// `GET /me/export` and `DELETE /me`.
pub fn router() -> OpenApiRouter<AccountState> {
    OpenApiRouter::new()
        .routes(routes!(export::export))
        .routes(routes!(erase::erase))
}
