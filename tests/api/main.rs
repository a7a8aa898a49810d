//! confab's integration tests: one binary (faster to link), real sockets, a
//! real redis-server started by the harness.

mod helpers;

mod accounts;
mod attacks;
mod bad_input;
mod delivery;
mod direct;
mod edits;
mod failover;
mod faults;
mod limits;
mod logs;
mod messages;
mod names;
mod openapi;
mod operations;
mod read_state;
mod realtime;
mod realtime_more;
mod rooms;
mod slow_clients;
mod typing;
mod users;
mod webhooks;
