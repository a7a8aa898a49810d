//! HTTP/1.1 spoken by hand over a plain socket, for tests of what an HTTP
//! client library would not do: send a body a byte at a time, hold a
//! connection open, or watch the server close it.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// One client connection, read and written separately (a test writes a
/// slow body from one task while it reads the answer in another).
pub struct RawConnection {
    /// The reading half, with what was read and not yet consumed.
    pub reader: RawReader,
    /// The writing half.
    pub writer: OwnedWriteHalf,
}

/// The reading half of a [`RawConnection`].
pub struct RawReader {
    /// The socket's reading half.
    read: OwnedReadHalf,
    /// Bytes read past the last response.
    buf: Vec<u8>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct RawReply {
    /// The status code.
    pub status: u16,
    /// Headers, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub text: String,
    /// The body as JSON (`Null` when it is not).
    pub json: Value,
}

impl RawReply {
    /// The first value of header `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts the status and that the body is a problem document with this
    /// code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        assert_eq!(self.json["code"], code, "{self:?}");
        assert_eq!(self.json["status"], status, "{self:?}");
    }

    /// Whether the server said it closes the connection after this reply.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

impl RawConnection {
    /// Connects to `address` (`http://host:port`).
    pub async fn open(address: &str) -> Self {
        let host = address.trim_start_matches("http://");
        let stream = TcpStream::connect(host).await.expect("connected");
        stream.set_nodelay(true).expect("nodelay");
        let (read, writer) = stream.into_split();
        Self {
            reader: RawReader {
                read,
                buf: Vec::new(),
            },
            writer,
        }
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.expect("written");
    }

    /// Sends `GET path` (keeping the connection open) and reads the answer.
    pub async fn get(&mut self, path: &str) -> RawReply {
        let head = format!("GET {path} HTTP/1.1\r\nHost: confab\r\n\r\n");
        self.send(head.as_bytes()).await;
        self.reader.reply(Duration::from_secs(5)).await
    }
}

impl RawReader {
    /// Reads one response (its body sized by `Content-Length`); panics when
    /// none arrives within `timeout`.
    pub async fn reply(&mut self, timeout: Duration) -> RawReply {
        tokio::time::timeout(timeout, self.read_reply())
            .await
            .unwrap_or_else(|_| panic!("no response within {timeout:?}"))
    }

    async fn read_reply(&mut self) -> RawReply {
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf[..head_end].to_vec()).expect("head is text");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {head}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_start = head_end + 4;
        while self.buf.len() < body_start + length {
            self.fill().await;
        }
        let body: Vec<u8> = self
            .buf
            .drain(..body_start + length)
            .skip(body_start)
            .collect();
        let text = String::from_utf8_lossy(&body).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        RawReply {
            status,
            headers,
            text,
            json,
        }
    }

    /// Reads more; panics when the server closed the connection.
    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.read.read(&mut chunk).await.expect("read");
        assert!(n > 0, "connection closed before a whole response");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Whether the server closes the connection (end of stream or reset,
    /// with nothing more to read) within `timeout`.
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let closed = async {
            let mut chunk = [0u8; 4096];
            loop {
                match self.read.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(timeout, closed).await.is_ok()
    }
}
