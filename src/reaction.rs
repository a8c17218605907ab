//! What a reaction (to a stored change, or to an object's arrival) ends in
//! when it does not succeed. Each resource's reactions return it; the
//! dispatcher in [`crate::reactions`] and whoever delivered the event (the
//! local workers, Lambda) act on it. It sits below the resources so that
//! both sides can name it.

use crate::mail::MailError;
use crate::objects::ObjectError;
use crate::store::StoreError;

/// Why a reaction did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ReactionError {
    /// Deliver the event again later: a backend failed, and trying again can
    /// succeed. Lambda reports the record as failed; a local worker holds it
    /// back and retries.
    #[error("{0}")]
    Retry(String),
    /// The event can never be handled (a malformed record, mail refused for
    /// its address): logged, then treated as done so that it blocks nothing.
    #[error("{0}")]
    Drop(String),
}

/// Backend failures are worth retrying: deliveries are at least once, and
/// every reaction is idempotent.
macro_rules! retry_on {
    ($($error:ty),*) => {$(
        impl From<$error> for ReactionError {
            fn from(error: $error) -> Self {
                ReactionError::Retry(error.to_string())
            }
        }
    )*};
}

retry_on!(StoreError, ObjectError, MailError);
