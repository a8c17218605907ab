//! The deadline of the request a write belongs to. The HTTP layer answers
//! 503 when a request's deadline passes, and a write already sent then may
//! still land: the client was told "in doubt". What must not happen is a
//! write that has not even begun by then beginning later: it would land
//! after the client, seeing the 503, read the item unchanged and settled
//! on that, and its next read would contradict it. So a write checks the
//! deadline when it is about to begin (for the embedded store: once it holds
//! the write lock, where it may have queued), and one that has passed, or is
//! about to, is refused and never applied.

use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// A write that would begin this close to its deadline is refused: its
/// commit could still be under way when the 503 goes out.
const COMMIT_MARGIN: Duration = Duration::from_millis(250);

/// Runs `work` with `deadline` as its writes' deadline.
pub async fn within<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The deadline of the running task's request, if it has one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// True when a write with this deadline must not begin any more.
pub fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|at| Instant::now() + COMMIT_MARGIN >= at)
}
