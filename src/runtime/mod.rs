//! How the router is served: a TCP server (laptop, container), or Lambda's
//! runtime API for HTTP events or stream and S3 events. `main` picks one
//! from [`crate::config::Runtime`].

pub mod lambda;
mod server;

pub use server::{Server, shutdown_signal};
