//! confab's integration tests: one binary (faster to link), real sockets, a
//! real redis-server started by the harness.

mod helpers;

mod accounts;
