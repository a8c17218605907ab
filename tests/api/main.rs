//! Black-box tests over HTTP: each test starts the real router on a random
//! port with a fresh data directory (see `helpers::spawn_app`) and checks
//! what a client sees.

mod auth;
mod cache;
mod durability;
mod errors;
mod helpers;
mod todos;
