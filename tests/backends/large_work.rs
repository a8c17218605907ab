//! The threads that run photo work: answers come back, and a job that
//! panics costs its caller an error, never a thread.

use atrium::large_work::run;

#[tokio::test]
async fn work_answers_and_a_panic_loses_only_its_own_job() {
    assert_eq!(run(|| 6 * 7).await.unwrap(), 42);
    // More panics than there are threads: were a panic to end its thread,
    // the last call would wait for ever.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for _ in 0..=threads {
        let panicked = run(|| -> u8 { panic!("a photo that breaks the decoder") }).await;
        assert!(panicked.is_err());
    }
    let after = tokio::time::timeout(std::time::Duration::from_secs(10), run(|| "after"));
    assert_eq!(after.await.expect("a thread is left").unwrap(), "after");
}

#[tokio::test]
async fn jobs_run_side_by_side_on_every_core() {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(threads));
    let jobs = (0..threads).map(|_| {
        let barrier = barrier.clone();
        run(move || barrier.wait().is_leader())
    });
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        futures::future::join_all(jobs),
    );
    let leaders = waited.await.expect("the jobs ran at once");
    assert_eq!(
        leaders.into_iter().filter(|l| *l.as_ref().unwrap()).count(),
        1
    );
}
