//! `floor`: what one delivery costs at the least on this machine, with no
//! confab in the way: one thread writes an event-sized buffer to each of S
//! loopback TCP connections, R times a second for T seconds, while this
//! process reads them all on its other threads (as `fanout`'s streams do).
//! The writing thread's CPU time per write is the floor `fanout`'s "confab
//! CPU per delivery" is to be compared with: one small socket write each.
//! On loopback the receiver's TCP processing runs in the writer's system
//! call (the data is delivered in the sender's context), so it is counted
//! here as it is in confab's figure.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::AsyncReadExt;

use crate::bench::Bench;

/// Bytes of a typical message event on a stream (`id:` with a resume token,
/// `event: message`, and the message's JSON), written each time.
const EVENT_BYTES: usize = 450;

impl Bench {
    pub async fn floor(&mut self, streams: usize, rate: u64, seconds: u64) -> anyhow::Result<()> {
        let params = format!("{streams} connections, {rate} writes/s each, {seconds} s");
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut writers = Vec::with_capacity(streams);
        let mut readers = Vec::with_capacity(streams);
        for _ in 0..streams {
            let client = tokio::net::TcpStream::connect(addr).await?;
            // The connection is already queued on the listener.
            let (server, _) = listener.accept()?;
            server.set_nodelay(true)?;
            writers.push(server);
            readers.push(tokio::spawn(read_to_end(client)));
        }
        let total = rate * seconds;
        let writer = std::thread::spawn(move || -> anyhow::Result<u64> {
            let event = [b'x'; EVENT_BYTES];
            let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
            let started = thread_cpu_ns()?;
            let mut next = Instant::now();
            for _ in 0..total {
                for socket in &mut writers {
                    socket.write_all(&event)?;
                }
                next += interval;
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
            }
            let cpu = thread_cpu_ns()? - started;
            // Closing the connections ends the readers.
            drop(writers);
            Ok(cpu)
        });
        let cpu_ns = tokio::task::spawn_blocking(move || writer.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the writing thread panicked"))??;
        let mut complete = 0;
        for reader in readers {
            if reader.await?? == total as usize * EVENT_BYTES {
                complete += 1;
            }
        }
        let writes = total as f64 * streams as f64;
        self.row(
            "floor",
            &params,
            "writer CPU per write",
            cpu_ns as f64 / writes / 1000.0,
            "us",
        );
        self.row(
            "floor",
            &params,
            "connections that read every byte",
            complete as f64,
            "connections",
        );
        Ok(())
    }
}

/// Reads a connection until its end; returns the bytes read.
async fn read_to_end(mut stream: tokio::net::TcpStream) -> anyhow::Result<usize> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut read = 0;
    loop {
        match stream.read(&mut buf).await? {
            0 => return Ok(read),
            n => read += n,
        }
    }
}

/// Nanoseconds the calling thread has been on a CPU (the first field of
/// `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> anyhow::Result<u64> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    schedstat
        .split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .context("odd /proc/thread-self/schedstat")
}
