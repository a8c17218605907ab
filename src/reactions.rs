//! A stored change or an object's arrival, to the resource that owns it.
//!
//! Whoever delivers the event calls [`Reactions`]: on AWS the Lambda event
//! mode ([`crate::runtime::events`]) with DynamoDB Stream records and S3
//! notifications; locally the workers ([`crate::app::workers`]) with the
//! embedded store's change feed and the local object store's notifications.
//! One code path either way. Deliveries are at least once and may race, so
//! every reaction is idempotent.
//!
//! The resources decide what is theirs: the blog welcomes new subscribers
//! ([`blog::welcome`]), the site regenerates its pages when a post changes
//! ([`site::on_change`]), uploads complete when their bytes land
//! ([`uploads::complete`]). A reaction that can never succeed is logged
//! here and counts as done; what comes back is always worth a retry.

use crate::blog::{self, BlogState};
use crate::objects::ObjectEvent;
use crate::reaction::ReactionError;
use crate::site::{self, SiteState};
use crate::store::ChangeRecord;
use crate::tally::Tally;
use crate::uploads::{self, UploadsState};

/// The reactions of every resource, with what they need.
#[derive(Clone)]
pub struct Reactions {
    pub blog: BlogState,
    pub uploads: UploadsState,
    pub site: SiteState,
    /// Counts the events handled, and those to be delivered again.
    pub tally: Tally,
}

/// Deliver the event again later (the reason is for the log).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RetryLater(pub String);

impl Reactions {
    /// Handles one stored change.
    pub async fn on_change(&self, change: &ChangeRecord) -> Result<(), RetryLater> {
        let welcome = blog::welcome::on_change(&self.blog, change).await;
        let pages = site::on_change(&self.site, change).await;
        self.settle(welcome.and(pages))
    }

    /// Handles "an object was created at `key`" (S3 ObjectCreated).
    pub async fn on_object_created(&self, key: &str) -> Result<(), RetryLater> {
        self.settle(uploads::complete::on_object_created(&self.uploads, key).await)
    }

    /// Handles one notification of the local object store.
    pub async fn on_object_event(&self, event: &ObjectEvent) -> Result<(), RetryLater> {
        match event {
            ObjectEvent::Created(key) => self.on_object_created(key).await,
            ObjectEvent::Refused { key, reason } => {
                self.settle(uploads::complete::on_object_refused(&self.uploads, key, reason).await)
            }
        }
    }

    /// Counts the event; logs a reaction that can never succeed and lets it
    /// count as done.
    fn settle(&self, result: Result<(), ReactionError>) -> Result<(), RetryLater> {
        self.tally.events_handled.inc();
        match result {
            Ok(()) => Ok(()),
            Err(ReactionError::Drop(why)) => {
                tracing::warn!(%why, "reaction dropped: it can never succeed");
                Ok(())
            }
            Err(ReactionError::Retry(why)) => {
                self.tally.events_failed.inc();
                Err(RetryLater(why))
            }
        }
    }
}
