//! What the service did besides answering requests: mail sent, thumbnails
//! made, stored changes and object arrivals handled, and those that failed
//! and wait for a retry.
//!
//! The counters are shared by whoever does the work and by both places the
//! figures are read: `/metrics` on a server, the Embedded Metric Format
//! documents on Lambda (where the events function does this work, and
//! answers no HTTP request that could carry them).

use prometheus_client::metrics::counter::Counter;

/// Counters of the work done outside requests; clones count together.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Messages the mail backend accepted.
    pub emails_sent: Counter,
    /// Thumbnails written next to an upload.
    pub thumbnails_made: Counter,
    /// Stored changes and object arrivals handed to the reactions.
    pub events_handled: Counter,
    /// Those whose reaction asked to be delivered again.
    pub events_failed: Counter,
}

impl Tally {
    /// Each counter as `/metrics` names it, as the EMF documents name it,
    /// and what it counts.
    pub fn named(&self) -> [(&'static str, &'static str, &'static str, &Counter); 4] {
        [
            (
                "emails_sent",
                "EmailsSent",
                "Messages the mail backend accepted",
                &self.emails_sent,
            ),
            (
                "thumbnails_made",
                "ThumbnailsMade",
                "Thumbnails written next to an upload",
                &self.thumbnails_made,
            ),
            (
                "events_handled",
                "EventsHandled",
                "Stored changes and object arrivals handled",
                &self.events_handled,
            ),
            (
                "events_failed",
                "EventsFailed",
                "Events whose reaction asked for a retry",
                &self.events_failed,
            ),
        ]
    }
}
