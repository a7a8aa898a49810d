//! confab: a chat backend on Redis, served as HTTP REST and Server-Sent Events. The public contract is `API.md`; the OpenAPI document generated
//! from this crate (`confab openapi`) describes it exactly.
//!
//! # Layout
//! - [`config`]: typed settings from `config/` and `CONFAB_*` variables.
//! - [`startup`]: the shared state, the actix `App`, the server.
//! - [`routes`]: HTTP handlers, one module per resource.
//! - [`domain`]: newtypes that parse untrusted input at the edge.
//! - [`model`]: the JSON objects of the contract.
//! - [`extract`]: body, query and path extractors that answer with problems.
//! - [`auth`]: password hashing, access tokens, the `AuthUser` extractor.
//! - [`realtime`]: the SSE stream, Pub/Sub fan-out, offline queues, resume
//!   and presence.
//! - [`store`]: everything in Redis; `store::keys` names every key, Lua
//!   scripts live beside the code that runs them.
//! - [`error`]: the one error type and its problem+json form.
//! - [`openapi`]: the OpenAPI document's hand-written parts.
//! - [`metrics`]: Prometheus counters for `/metrics`.
//!
//! Data flows one way: route -> domain check -> store (Redis) -> realtime
//! fan-out (Pub/Sub) -> SSE.

#![forbid(unsafe_code)]

pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod event;
pub mod extract;
pub mod message;
pub mod metrics;
pub mod middleware;
pub mod model;
pub mod openapi;
pub mod realtime;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;

#[cfg(test)]
mod properties;
