//! HTTP-level tests of the FaceGate API mounted in axum: every endpoint's
//! success path and each documented error. One binary, one module per area.

mod support;

mod audit;
mod auth;
mod consent;
mod demo;
mod faces;
mod guard;
mod health;
mod liveness;
mod pin;
mod properties;
mod requests;
mod sessions;
mod tokens;
mod users;
