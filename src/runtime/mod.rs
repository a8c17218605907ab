//! How the router and the reactions are served: a TCP server (laptop,
//! container), or Lambda's runtime API for HTTP events ([`lambda`]) or for
//! stream and S3 events ([`events`]). [`crate::app::Application::run`]
//! picks one from [`crate::config::Runtime`].

pub mod events;
pub mod lambda;
mod server;

pub use server::{Server, shutdown_signal};
