//! The background work of a process that runs its own backends: the
//! embedded store's purger, and the two feeds that stand in for AWS's event
//! delivery (the store's change feed for DynamoDB Streams, the local object
//! store's notifications for S3's). On AWS there is nothing to run here:
//! Lambda delivers those events to the event mode instead.
//!
//! [`Workers`] owns what it starts. [`Workers::drain`] has every feed hand
//! what is pending to its reaction and returns once nothing is left, so a
//! test waits for exactly the work it caused instead of sleeping;
//! [`Workers::shutdown`] stops them after the pass under way. Dropping
//! `Workers` stops them too.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::objects::ObjectEvents;
use crate::reactions::Reactions;
use crate::store::{ChangeFeed, EmbeddedTable};

/// How often expired items are purged from the embedded store.
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// How long a feed waits before retrying a reaction that asked for it.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How long a feed sleeps without news before it looks again anyway.
const LOOK_AGAIN_AFTER: Duration = Duration::from_secs(5);

/// A request to run a pass now; answered with how much it handled.
type DrainRequest = oneshot::Sender<usize>;

/// The running workers of this process.
pub struct Workers {
    cancel: CancellationToken,
    handles: Vec<JoinHandle<()>>,
    /// One per feed (the purger is not drained).
    feeds: Vec<mpsc::Sender<DrainRequest>>,
}

/// What one pass over a worker's pending work did.
struct Pass {
    handled: usize,
    /// It stopped at an item that asked to be retried later.
    retry: bool,
}

/// One kind of background work.
#[async_trait]
trait Job: Send + Sync + 'static {
    /// Handles what is pending now, in order, stopping at the first item
    /// that asks to be retried.
    async fn run_pending(&self) -> Pass;

    /// Returns when there may be more to do.
    async fn wait(&self);
}

impl Workers {
    /// Starts the workers the given backends need (none on AWS).
    pub fn start(
        embedded: Option<(EmbeddedTable, ChangeFeed)>,
        object_events: Option<ObjectEvents>,
        reactions: &Reactions,
    ) -> Self {
        let mut workers = Self {
            cancel: CancellationToken::new(),
            handles: Vec::new(),
            feeds: Vec::new(),
        };
        if let Some((table, feed)) = embedded {
            workers.spawn(Purger(table), false);
            let reactions = reactions.clone();
            workers.spawn(ChangeFeedJob { feed, reactions }, true);
        }
        if let Some(events) = object_events {
            let reactions = reactions.clone();
            workers.spawn(ObjectEventsJob { events, reactions }, true);
        }
        workers
    }

    fn spawn(&mut self, job: impl Job, drained: bool) {
        let (requests, received) = mpsc::channel(8);
        if drained {
            self.feeds.push(requests);
        }
        let handle = tokio::spawn(run(Arc::new(job), self.cancel.clone(), received));
        self.handles.push(handle);
    }

    /// Hands every pending change and object event to its reaction, again
    /// and again (a reaction's writes can be changes too), until a whole
    /// round finds nothing left or only what waits for a retry. Returns how
    /// many were handled.
    pub async fn drain(&self) -> usize {
        let mut total = 0;
        loop {
            let mut round = 0;
            for feed in &self.feeds {
                let (reply, answer) = oneshot::channel();
                if feed.send(reply).await.is_ok() {
                    round += answer.await.unwrap_or(0);
                }
            }
            if round == 0 {
                return total;
            }
            total += round;
        }
    }

    /// Stops every worker once the pass under way ends; waits up to
    /// `grace` for them.
    pub async fn shutdown(mut self, grace: Duration) {
        self.cancel.cancel();
        let handles = std::mem::take(&mut self.handles);
        let all = futures_util::future::join_all(handles);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(?grace, "workers did not stop within the grace period");
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A worker's life: a first pass for what was left from before, then a pass
/// whenever there may be more, or a drain asks, until cancelled.
async fn run(
    job: Arc<dyn Job>,
    cancel: CancellationToken,
    mut drains: mpsc::Receiver<DrainRequest>,
) {
    let mut backoff = job.run_pending().await.retry;
    loop {
        let wake = async {
            match backoff {
                true => tokio::time::sleep(RETRY_AFTER).await,
                false => job.wait().await,
            }
        };
        let pass = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            Some(reply) = drains.recv() => {
                let pass = job.run_pending().await;
                let _ = reply.send(pass.handled);
                pass
            }
            () = wake => job.run_pending().await,
        };
        backoff = pass.retry;
    }
}

/// Deletes expired items from the embedded store now and then.
struct Purger(EmbeddedTable);

#[async_trait]
impl Job for Purger {
    async fn run_pending(&self) -> Pass {
        let handled = match self.0.purge_expired().await {
            Ok(purged) => purged,
            Err(error) => {
                tracing::warn!(%error, "purging expired items failed");
                0
            }
        };
        Pass {
            handled,
            retry: false,
        }
    }

    async fn wait(&self) {
        tokio::time::sleep(PURGE_EVERY).await;
    }
}

/// The embedded store's changes to their reactions, in commit order. A
/// failing change holds back the ones after it, as a stream shard does.
struct ChangeFeedJob {
    feed: ChangeFeed,
    reactions: Reactions,
}

#[async_trait]
impl Job for ChangeFeedJob {
    async fn run_pending(&self) -> Pass {
        let mut handled = 0;
        loop {
            let batch = match self.feed.pending(64).await {
                Ok(batch) if batch.is_empty() => {
                    return Pass {
                        handled,
                        retry: false,
                    };
                }
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, "reading the change feed failed");
                    return Pass {
                        handled,
                        retry: true,
                    };
                }
            };
            // Handled records are forgotten together, up to the first that
            // failed; a crash before that makes them arrive again, as a
            // stream's records may (every reaction allows for it).
            let mut last_handled = None;
            let mut failed = false;
            for (seq, change) in batch {
                if let Err(error) = self.reactions.on_change(&change).await {
                    tracing::warn!(%error, seq, "reaction failed; will retry");
                    failed = true;
                    break;
                }
                last_handled = Some(seq);
                handled += 1;
            }
            if let Some(seq) = last_handled
                && let Err(error) = self.feed.ack_through(seq).await
            {
                tracing::warn!(%error, seq, "could not acknowledge changes");
                failed = true;
            }
            if failed {
                return Pass {
                    handled,
                    retry: true,
                };
            }
        }
    }

    async fn wait(&self) {
        let _ = tokio::time::timeout(LOOK_AGAIN_AFTER, self.feed.committed()).await;
    }
}

/// The local object store's notifications to their reactions, in order.
struct ObjectEventsJob {
    events: ObjectEvents,
    reactions: Reactions,
}

#[async_trait]
impl Job for ObjectEventsJob {
    async fn run_pending(&self) -> Pass {
        let mut handled = 0;
        while let Some(event) = self.events.take() {
            if let Err(error) = self.reactions.on_object_event(&event).await {
                tracing::warn!(%error, ?event, "reaction failed; will retry");
                self.events.put_back(event);
                return Pass {
                    handled,
                    retry: true,
                };
            }
            handled += 1;
        }
        Pass {
            handled,
            retry: false,
        }
    }

    async fn wait(&self) {
        let _ = tokio::time::timeout(LOOK_AGAIN_AFTER, self.events.arrived()).await;
    }
}
