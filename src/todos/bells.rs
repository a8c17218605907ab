//! Wake-ups for sync calls waiting on a user's changes: one [`Notify`] per
//! user with someone waiting, rung by this instance's commits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

use crate::ids::UserId;

/// One [`Notify`] per user with someone waiting, dropped with its last
/// waiter.
#[derive(Default)]
pub(super) struct Bells(Mutex<HashMap<UserId, Weak<Notify>>>);

impl Bells {
    pub(super) fn bell(&self, user: &UserId) -> Arc<Notify> {
        let mut bells = self.0.lock().expect("bells lock");
        if let Some(bell) = bells.get(user).and_then(Weak::upgrade) {
            return bell;
        }
        if bells.len() >= 64 && bells.len().is_power_of_two() {
            bells.retain(|_, bell| bell.strong_count() > 0);
        }
        let bell = Arc::new(Notify::new());
        bells.insert(user.clone(), Arc::downgrade(&bell));
        bell
    }

    pub(super) fn ring(&self, user: &UserId) {
        let bell = self
            .0
            .lock()
            .expect("bells lock")
            .get(user)
            .and_then(Weak::upgrade);
        if let Some(bell) = bell {
            bell.notify_waiters();
        }
    }
}
