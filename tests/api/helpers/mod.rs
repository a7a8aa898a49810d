//! The test harness, one job per module:
//! - [`redis_server`]: throwaway `redis-server`s on free ports (never the
//!   machine's own Redis), which fault tests stop, restart and freeze;
//! - [`app`]: a confab server per test with its own key prefix, and typed
//!   request helpers;
//! - [`sse`]: reading an event stream as a browser would;
//! - [`raw`]: HTTP by hand over a socket (slow bodies, held connections);
//! - [`receiver`]: a webhook receiver that records deliveries and answers
//!   as told;
//! - [`json`]: digging values out of reply bodies, and expected shapes;
//! - [`wait`]: polling until something happens in the background.
//!
//! Tests `use crate::helpers::*` and see every public name at once.

mod app;
mod json;
mod raw;
mod receiver;
mod redis_server;
mod sse;
mod wait;

pub use app::*;
pub use json::*;
pub use raw::*;
pub use receiver::*;
pub use redis_server::*;
pub use sse::*;
pub use wait::*;
