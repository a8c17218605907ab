//! What every list endpoint shares: the `limit` check and the page shape
//! (`items` plus the opaque `next_cursor`).

use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::store::{Item, Page};

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listing<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Listing<T> {
    /// The API page of a store page, each item read with `read`.
    pub fn of(page: Page, read: impl Fn(&Item) -> Result<T, ApiError>) -> Result<Self, ApiError> {
        Ok(Self {
            items: page.items.iter().map(read).collect::<Result<_, _>>()?,
            next_cursor: page.next.map(|c| c.encode()),
        })
    }
}

/// The page size asked for (`default` when absent); 422 outside `1..=max`.
pub fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit as usize)
    } else {
        Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {max}"),
        ))
    }
}
