//! confab: a chat backend on Redis, served as HTTP REST and Server-Sent
//! Events. The OpenAPI document generated from this crate (`confab openapi`,
//! committed as `openapi/openapi.json`) is its public contract.
//!
//! # Layout
//! - [`config`]: typed settings from `config/` and `CONFAB_*` variables.
//! - [`startup`]: the actix `App` and the server; [`state`]: what every
//!   handler reaches; [`middleware`]: request ids, logs, CORS, headers,
//!   body deadlines and connection caps; [`connections`]: counting client
//!   connections per instance and per address.
//! - [`routes`]: HTTP handlers, one module per resource; each parses, calls
//!   one [`service`] function and shapes the answer.
//! - [`service`]: one function per use case, the only place that
//!   orchestrates store, realtime and rate limits.
//! - [`domain`]: newtypes that parse untrusted input at the edge.
//! - [`message`]: messages as confab holds them, and the short user form.
//! - [`event`]: the internal event, as it travels through Redis.
//! - [`model`]: the JSON objects of the contract.
//! - [`extract`]: body, query and path extractors that answer with problems.
//! - [`auth`]: password hashing, access tokens, the `AuthUser` extractor.
//! - [`realtime`]: the SSE stream, Pub/Sub fan-out, offline queues, resume
//!   and presence.
//! - [`webhooks`]: delivering room messages to webhooks (consumer groups,
//!   leases, retries, SSRF checks).
//! - [`store`]: everything in Redis; `store::keys` names every key, Lua
//!   scripts live beside the code that runs them.
//! - [`error`]: the error table (one row per code), the one error type and
//!   its problem+json form.
//! - [`openapi`]: the OpenAPI document's hand-written parts.
//! - [`metrics`]: Prometheus counters for `/metrics`.
//!
//! Data flows one way: route -> domain check -> service -> store (Redis) and
//! realtime fan-out (Pub/Sub) -> SSE.

#![forbid(unsafe_code)]

pub mod auth;
pub mod clock;
pub mod config;
pub mod connection;
pub mod connections;
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
pub mod webhooks;

#[cfg(test)]
mod properties;
