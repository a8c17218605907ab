//! `FaultProxy`: a TCP proxy on loopback between the service and its AWS
//! emulator that fails the way networks fail, on command, so a test can see
//! what the service does when DynamoDB is refused, hung or slow, and that it
//! recovers without a restart.
//!
//! - [`Fault::Refuse`]: the port is closed (connects are refused) and open
//!   connections are cut, as when the far side is gone.
//! - [`Fault::Hang`]: a black hole. New connections are accepted and hear
//!   nothing; on open ones, requests stop being delivered. When the hang
//!   ends they are cut (their clients gave up on them long ago).
//! - [`Fault::Slow`]: every chunk, either way, waits before it is passed on.
//!
//! An answer the emulator already owes when a fault begins is still
//! delivered (for a moment) before the connection is cut. A faithful
//! network would sometimes lose it, but moto cannot take what follows: the
//! SDK replays the request, and moto's TransactWriteItems is not isolated (a
//! replay it cancels restores an old copy of the table), so the test would
//! measure moto, not us. The lost answer is `Fault::LoseAnswers`, for a
//! test of one request at a time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How the network between the service and the emulator behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    Refuse,
    Hang,
    Slow(Duration),
    /// Requests are delivered, their answers lost: the write landed, but
    /// the service cannot know. Cut when it ends, like a hang.
    LoseAnswers,
}

/// The proxy; dropping it stops it.
pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: watch::Sender<(u64, Fault)>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts forwarding a fresh loopback port to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = listener.local_addr().unwrap();
        let (fault, watcher) = watch::channel((0, Fault::None));
        let task = tokio::spawn(serve(Some(listener), addr, target, watcher));
        Self { addr, fault, task }
    }

    /// The proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches to `fault` (`Fault::None` heals).
    pub fn set(&self, fault: Fault) {
        self.fault.send_modify(|(era, current)| {
            *era += 1;
            *current = fault;
        });
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts while the port is open; closes it while refusing.
async fn serve(
    mut listener: Option<TcpListener>,
    addr: SocketAddr,
    target: SocketAddr,
    mut faults: watch::Receiver<(u64, Fault)>,
) {
    loop {
        let (_, fault) = *faults.borrow_and_update();
        match (&listener, fault) {
            (Some(_), Fault::Refuse) => listener = None,
            (None, Fault::Refuse) => {}
            (None, _) => listener = Some(bind(addr).expect("the proxy's port again")),
            _ => {}
        }
        let Some(open) = &listener else {
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                if let Ok((client, _)) = accepted {
                    tokio::spawn(forward(client, target, faults.clone()));
                }
            }
            changed = faults.changed() => if changed.is_err() { return },
        }
    }
}

/// How long answers the emulator already owes may still arrive once a
/// fault begins; then the connection is cut.
const OWED_ANSWERS_GRACE: Duration = Duration::from_secs(2);

/// One connection, for as long as the network allows it.
async fn forward(client: TcpStream, target: SocketAddr, mut faults: watch::Receiver<(u64, Fault)>) {
    let (era, fault) = *faults.borrow_and_update();
    if fault == Fault::Hang {
        // A black hole: hold the connection until the hang ends, then cut it.
        let _ = faults.wait_for(|(now, _)| *now != era).await;
        return;
    }
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let answers = pipe(server_read, client_write, faults.clone(), Way::Answers);
    let mut answers = tokio::spawn(answers);
    tokio::select! {
        // Ends when the client is done or a fault stops delivery.
        _ = pipe(client_read, server_write, faults.clone(), Way::Requests) => {}
        _ = faults.wait_for(|(_, f)| *f == Fault::Refuse) => {}
    }
    let _ = tokio::time::timeout(OWED_ANSWERS_GRACE, &mut answers).await;
    answers.abort();
}

/// Which way bytes go, and so which faults stop them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Requests,
    Answers,
}

/// Copies one way until the sender is done or a fault stops delivery (a
/// chunk read then is never delivered): requests stop under `Fault::Hang`,
/// answers under `Fault::LoseAnswers`, both under `Fault::Refuse`. Under
/// `Fault::Slow` each chunk is delivered its delay after it arrived, as a
/// long link delivers packets: later chunks do not wait for earlier ones'
/// delay on top of their own.
async fn pipe(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut faults: watch::Receiver<(u64, Fault)>,
    way: Way,
) {
    let (queue, mut due) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let deliver = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let receive = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let (era, fault) = *faults.borrow_and_update();
            let delay = match (fault, way) {
                (Fault::Refuse, _) => return,
                (Fault::Hang, Way::Requests) | (Fault::LoseAnswers, Way::Answers) => {
                    // Silent until the fault ends; then the connection is cut.
                    let _ = faults.wait_for(|(now, _)| *now != era).await;
                    return;
                }
                (Fault::Slow(delay), _) => delay,
                _ => Duration::ZERO,
            };
            let chunk = buffer[..read].to_vec();
            if queue.send((Instant::now() + delay, chunk)).is_err() {
                return;
            }
        }
    };
    // Delivery ends when the queue closes: what was received goes out first.
    tokio::join!(receive, deliver);
}
