//! The client's TCP connection, reachable from outside the HTTP dispatcher,
//! so that a stream whose client stopped reading can be cut.
//!
//! actix writes a response only as fast as the client reads it, and a
//! response whose client never reads blocks on a full socket forever: no
//! timer of the dispatcher covers a stalled write, and the dispatcher stops
//! polling the response body (so an error from it is never seen) while its
//! write buffer is full. Shutting the socket down makes the pending write
//! fail, and the dispatcher then drops the connection at once.

use std::any::Any;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;

use actix_web::dev::Extensions;

/// Cuts one connection: a duplicate of its socket's descriptor, taken when
/// it was accepted. (A duplicate shares the socket, so shutting it down
/// ends the connection the dispatcher holds; each served connection
/// therefore holds two descriptors, which the instance cap accounts for:
/// `connections::effective_cap`.)
#[derive(Debug, Clone)]
pub struct Cutter(Arc<std::net::TcpStream>);

impl Cutter {
    /// Shuts the connection down both ways: the client sees it end, and the
    /// dispatcher's pending write fails, which frees the connection.
    pub fn cut(&self) {
        if let Err(e) = self.0.shutdown(Shutdown::Both) {
            tracing::debug!(error = %e, "could not shut a connection down");
        }
    }
}

/// For `HttpServer::on_connect`: keeps a [`Cutter`] in the connection's
/// data (a request reads it with `req.conn_data::<Cutter>()`).
pub fn remember_socket(connection: &dyn Any, data: &mut Extensions) {
    let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    match tcp.as_fd().try_clone_to_owned() {
        Ok(fd) => {
            data.insert(Cutter(Arc::new(std::net::TcpStream::from(fd))));
        }
        Err(e) => tracing::debug!(error = %e, "could not keep a connection's socket"),
    }
}
