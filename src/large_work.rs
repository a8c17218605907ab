//! Work that allocates and frees tens of megabytes at a time (decoding and
//! resizing photos) runs here, on threads of its own, one per core.
//!
//! Why not tokio's blocking pool: such work wants its freed memory kept
//! while more of it keeps coming (a phone sends a batch of photos), and
//! handed back to the OS once it stops (see `crate::allocator`). mimalloc
//! keeps memory per thread, so only the thread that did the work can hand
//! all of it back, and only a thread we own can wait to see whether more
//! comes. Each of these threads holds freed pages from its first job until
//! it has waited [`KEEP_FOR`] without one, then lets go.
//!
//! At most one job per core runs at once; the rest wait their turn, so a
//! burst of uploads does not hold a decoded photo per request in memory.
//! A job whose caller has stopped waiting (a timeout) is skipped.

use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;

use crate::allocator::hold_freed_pages;

/// How long a thread keeps its freed pages after its last job: long enough
/// for the next photo of a batch to arrive.
pub const KEEP_FOR: Duration = Duration::from_secs(1);

/// The work did not finish: it panicked, or no thread could start for it.
#[derive(Debug, thiserror::Error)]
#[error("the work stopped before it finished")]
pub struct Lost;

type Job = Box<dyn FnOnce() + Send>;

/// Runs `work` on one of the large-work threads and waits for its result.
pub async fn run<T, F>(work: F) -> Result<T, Lost>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (answer, answered) = oneshot::channel();
    let job: Job = Box::new(move || {
        if !answer.is_closed() {
            let _ = answer.send(work());
        }
    });
    queue().ok_or(Lost)?.send(job).map_err(|_| Lost)?;
    answered.await.map_err(|_| Lost)
}

/// The jobs' queue, with its threads started on first use; `None` if not
/// one thread could start.
fn queue() -> Option<&'static Sender<Job>> {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(start).as_ref()
}

fn start() -> Option<Sender<Job>> {
    let (queue, jobs) = crossbeam_channel::unbounded();
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let started = (0..cores)
        .filter(|n| {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("large-work-{n}"))
                .spawn(move || worker(&jobs))
                .is_ok()
        })
        .count();
    (started > 0).then_some(queue)
}

/// Waits for a job; runs it and every job that follows within
/// [`KEEP_FOR`] with freed pages held; then lets go and waits again.
fn worker(jobs: &Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        let _held = hold_freed_pages();
        run_caught(job);
        loop {
            match jobs.recv_timeout(KEEP_FOR) {
                Ok(job) => run_caught(job),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }
}

/// A panicking job drops its answer (its caller sees [`Lost`]); the
/// thread goes on to the next.
fn run_caught(job: Job) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
}
