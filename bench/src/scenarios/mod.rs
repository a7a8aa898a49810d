//! One module per scenario, each an `impl Bench` method that sets up its own
//! users and rooms over the API, measures, and records rows:
//! - [`send`]: concurrent senders posting to a few rooms (throughput and
//!   latency of `POST .../messages`);
//! - [`members`]: the same load into rooms with 8, 64 or 1,000 more members
//!   without streams (Redis CPU and memory per message must not grow with
//!   them);
//! - [`fanout`]: many streams in one room receiving a fixed message rate
//!   (delivery latency, completeness, and confab's CPU per delivery);
//! - [`floor`]: the same writes with nothing but a socket write each (what
//!   a delivery costs at the least on this machine);
//! - [`history`]: paging a very long room history end to end;
//! - [`idle`]: many idle streams (server memory per stream);
//! - [`idle_max`]: as many idle streams as the open-file limits allow, up
//!   to 100,000, from several loopback source addresses (server memory per
//!   stream at that scale);
//! - [`offline`]: connecting with a large offline backlog;
//! - [`offline_rooms`]: returning to 50 rooms that got 1,000 messages
//!   meanwhile (the backlog read from the rooms' Streams);
//! - [`quiet_rooms`]: returning to 1,000 rooms with no activity since
//!   (time to `ready`);
//! - [`resume`]: 10 streams resuming at once from a token 20,000 messages
//!   back (memory growth of confab and Redis, other requests unharmed);
//! - [`my_rooms`]: listing 100 busy rooms with unread counts while they
//!   keep getting messages;
//! - [`typing`]: typing notices to 2,000 streams in one room;
//! - [`webhooks`]: webhook deliveries from busy rooms to a local receiver
//!   (lag, deliveries/s, CPU per delivery), then `send` beside them;
//! - [`ceiling`]: confab's send script run on Redis directly (what Redis
//!   alone allows, to compare `send` with).

mod ceiling;
mod fanout;
mod floor;
mod history;
mod idle;
mod idle_max;
mod members;
mod my_rooms;
mod offline;
mod offline_rooms;
mod quiet_rooms;
mod resume;
mod send;
mod typing;
mod webhooks;

/// The body `send`, `members` and `ceiling` post: about as long as a typical
/// chat line, so all three measure the same message.
const TYPICAL_BODY: &str = "benchmark message body of a typical length, about sixty chars";
