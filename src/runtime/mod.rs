//! How the router and the reactions are served: a TCP server (laptop,
//! container), or Lambda's runtime API for HTTP events ([`lambda`]) or for
//! stream and S3 events ([`events`]). `main` (through [`crate::app::Application`])
//! picks one from [`crate::config::Runtime`].

pub mod events;
pub mod lambda;
mod server;

pub use server::{Limits, Server, shutdown_signal};
