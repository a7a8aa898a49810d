//! Client connections that stop reading are cut by the kernel.
//!
//! actix writes a response only as fast as the client reads it, and a
//! response whose client never reads blocks on a full socket forever: no
//! timer of the dispatcher covers a stalled write, and the dispatcher stops
//! polling the response body while its write buffer is full, so nothing in
//! the process can end it. An event stream is such a response. So every
//! served connection gets `TCP_USER_TIMEOUT` (Linux): when data the server
//! sent stays unacknowledged, or the client's receive window stays shut,
//! for that long, the kernel aborts the connection; the dispatcher's write
//! then fails and it drops the connection (and the stream) at once. It
//! costs no descriptor and no task, and a client that reads, however
//! slowly, is never cut by it.

use std::any::Any;
use std::time::Duration;

/// For `HttpServer::on_connect`: gives the accepted connection a user
/// timeout of `timeout` (see the module docs).
pub fn cut_when_unread_for(connection: &dyn Any, timeout: Duration) {
    let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    let socket = socket2::SockRef::from(tcp);
    if let Err(e) = socket.set_tcp_user_timeout(Some(timeout)) {
        tracing::debug!(error = %e, "could not set a connection's user timeout");
    }
}
