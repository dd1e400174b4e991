//! The actix adapter in front of a fresh store: the API it mounts, body
//! limits through actix's payload, and the guard middleware with its
//! extractors.

mod guard;
mod routes;
mod server;
mod support;
