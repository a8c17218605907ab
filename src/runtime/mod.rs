//! How the router is served: over TCP here; Lambda joins later.

mod server;

pub use server::{Server, shutdown_signal};
