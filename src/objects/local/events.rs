//! The local store's notifications, as S3 notifies Lambda of ObjectCreated:
//! a queue the process's worker takes from.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// What the local store tells its listener when a client's upload ends, as
/// S3 notifies Lambda of ObjectCreated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectEvent {
    /// An upload landed whole at this key.
    Created(String),
    /// An upload to this key was stopped as it arrived (too long, or the
    /// wrong kind of file), and nothing was stored.
    Refused { key: String, reason: String },
}

/// The listener's side of the local store's notifications: a queue in
/// arrival order. Clones share the queue.
#[derive(Clone, Default)]
pub struct ObjectEvents {
    queue: Arc<Mutex<VecDeque<ObjectEvent>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl ObjectEvents {
    pub(super) fn push(&self, event: ObjectEvent) {
        self.queue.lock().expect("queue lock").push_back(event);
        self.arrived.notify_one();
    }

    /// The oldest event not yet taken.
    pub fn take(&self) -> Option<ObjectEvent> {
        self.queue.lock().expect("queue lock").pop_front()
    }

    /// Returns an event that could not be handled to the front of the queue.
    pub fn put_back(&self, event: ObjectEvent) {
        self.queue.lock().expect("queue lock").push_front(event);
    }

    /// Waits until an event arrives (at once if one arrived since the last wait).
    pub async fn arrived(&self) {
        self.arrived.notified().await;
    }
}
