//! A minimal SSE reader: enough of `text/event-stream` to tell events apart
//! and hand back their name and raw data. Comments (`: ping`) and `retry:`
//! are skipped; the latest `id:` (a resume token) is kept for `resume`.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};

/// An open event stream, read event by event.
pub struct Events {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    /// Bytes received but not yet part of a complete event.
    buf: Vec<u8>,
    /// The `id:` of the latest event that had one (what a client sends back
    /// as `Last-Event-ID`).
    pub last_id: Option<String>,
}

impl Events {
    /// Reads the body of a stream response.
    pub fn new(res: reqwest::Response) -> Self {
        Self {
            body: Box::pin(res.bytes_stream()),
            buf: Vec::new(),
            last_id: None,
        }
    }

    /// The next event as (event name, data); `None` once the stream ends or
    /// fails.
    pub async fn next(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8_lossy(&block);
                let mut name = String::from("message");
                let mut data = String::new();
                let mut has_data = false;
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        has_data = true;
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    } else if let Some(v) = line.strip_prefix("id:") {
                        self.last_id = Some(v.trim().to_owned());
                    }
                }
                if has_data {
                    return Some((name, data));
                }
                continue;
            }
            match self.body.next().await {
                Some(Ok(bytes)) => self.buf.extend_from_slice(&bytes),
                _ => return None,
            }
        }
    }
}
