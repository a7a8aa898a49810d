//! The client side of an event stream: turns the bytes of a
//! `text/event-stream` body into events the way a browser's `EventSource`
//! does, keeping what a test may want to check besides the events
//! (comments such as `: ping`, `retry:` hints).

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use serde_json::Value;

/// One event read from an SSE stream.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// `event:` (`message` when absent).
    pub event: String,
    /// `id:`, if any.
    pub id: Option<String>,
    /// `data:` parsed as JSON.
    pub data: Value,
}

impl SseEvent {
    /// The message id of a `message` or `direct_message` event (`data.id`:
    /// what clients dedupe by; the `id:` line is an opaque resume token).
    pub fn message_id(&self) -> String {
        self.data["id"]
            .as_str()
            .unwrap_or_else(|| panic!("not a message event: {self:?}"))
            .to_owned()
    }

    /// The resume token of a message event, checked to be what the contract
    /// promises: at most 1 KiB of URL-safe characters, not the message id.
    pub fn token(&self) -> String {
        let token = self
            .id
            .clone()
            .unwrap_or_else(|| panic!("a message event has an id: {self:?}"));
        assert!(token.len() <= 1024, "{token}");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)),
            "{token}"
        );
        assert_ne!(token, self.message_id());
        token
    }
}

/// A client side of an open event stream, read as a browser would.
pub struct EventStream {
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body, as it arrives.
    body: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>>>>,
    /// Received text not yet parsed into events.
    buffer: String,
    /// Comment lines seen (`: ping`).
    pub comments: Vec<String>,
    /// `retry:` values seen.
    pub retries: Vec<String>,
}

impl EventStream {
    /// Reads the events of a `200` response to a stream request.
    pub fn new(res: reqwest::Response) -> Self {
        Self {
            headers: res.headers().clone(),
            body: Box::pin(res.bytes_stream()),
            buffer: String::new(),
            comments: Vec::new(),
            retries: Vec::new(),
        }
    }

    /// The next event (comments are recorded, not returned); `None` when the
    /// stream ended. Panics if nothing arrives within `timeout`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<SseEvent> {
        match self.try_next_within(timeout).await {
            Ok(event) => event,
            Err(()) => panic!("no event within {timeout:?}; buffered: {:?}", self.buffer),
        }
    }

    /// Like [`EventStream::next_within`], but `Err(())` when nothing arrives
    /// within `timeout` (nothing is lost: a later call continues where this
    /// one stopped).
    pub async fn try_next_within(&mut self, timeout: Duration) -> Result<Option<SseEvent>, ()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(event) = self.parse_buffered() {
                return Ok(Some(event));
            }
            let Ok(chunk) = tokio::time::timeout_at(deadline, self.body.next()).await else {
                return Err(());
            };
            match chunk {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Some(Err(_)) | None => return Ok(None),
            }
        }
    }

    /// Takes the first event out of the complete blocks (ended by a blank
    /// line) already received. Blocks without `data:` (comments, `retry:`
    /// alone) dispatch nothing, as in a browser, but are recorded.
    fn parse_buffered(&mut self) -> Option<SseEvent> {
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let mut event = SseEvent {
                event: "message".into(),
                id: None,
                data: Value::Null,
            };
            let mut data = String::new();
            let mut has_data = false;
            for line in block.lines() {
                if let Some(comment) = line.strip_prefix(':') {
                    self.comments.push(comment.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("event:") {
                    event.event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("id:") {
                    event.id = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    has_data = true;
                    data.push_str(v.strip_prefix(' ').unwrap_or(v));
                } else if let Some(v) = line.strip_prefix("retry:") {
                    self.retries.push(v.trim().to_owned());
                }
            }
            if has_data {
                event.data = serde_json::from_str(&data).expect("event data is JSON");
                return Some(event);
            }
        }
        None
    }

    /// The next event, within 5 seconds; panics if the stream ended.
    pub async fn next(&mut self) -> SseEvent {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("the stream ended")
    }

    /// The next event, which must be of this type.
    pub async fn expect(&mut self, event: &str) -> SseEvent {
        let next = self.next().await;
        assert_eq!(next.event, event, "{next:?}");
        next
    }

    /// Reads events until one of type `event` whose data satisfies `pred`,
    /// returning the events before it.
    pub async fn until(&mut self, event: &str, pred: impl Fn(&Value) -> bool) -> Vec<SseEvent> {
        let mut before = Vec::new();
        loop {
            let next = self.next().await;
            if next.event == event && pred(&next.data) {
                return before;
            }
            before.push(next);
        }
    }

    /// Asserts the stream ends within `timeout` (events before the end are
    /// ignored).
    pub async fn assert_ends_within(&mut self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "the stream did not end within {timeout:?}");
            if self.next_within(left).await.is_none() {
                return;
            }
        }
    }
}
