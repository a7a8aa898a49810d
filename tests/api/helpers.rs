//! The test harness: a throwaway `redis-server` per test binary (never the
//! machine's own Redis), a confab server per test on port 0 with its own key
//! prefix (so tests run in parallel without seeing each other), and typed
//! request helpers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use confab::config::Settings;
use confab::startup::Application;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

/// A `redis-server` this test binary started on a free port. A shell
/// watchdog kills it when the test process exits, however it exits.
pub struct TestRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working directory.
    dir: PathBuf,
    /// The watchdog shell.
    child: Option<Child>,
    /// Whether it keeps its data on disk (an append-only file synced on
    /// every write), so that it survives [`TestRedis::stop`].
    persistent: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether a Redis on `port` answers PING.
pub fn redis_answers(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl TestRedis {
    /// Starts a new server on a free port.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a new server on a free port that keeps its data across
    /// [`TestRedis::stop`] and [`TestRedis::resume`] (`--appendonly yes
    /// --appendfsync always`), like a production Redis restarting.
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    fn start_with(persistent: bool) -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("confab-test-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut redis = Self {
            port,
            dir,
            child: None,
            persistent,
        };
        redis.resume();
        redis
    }

    /// (Re)starts the server on its port, waiting until it answers.
    pub fn resume(&mut self) {
        if let Some(mut old) = self.child.take() {
            let _ = old.wait();
        }
        let persistence = if self.persistent {
            "--appendonly yes --appendfsync always"
        } else {
            "--appendonly no"
        };
        let script = format!(
            "redis-server --port {port} --bind 127.0.0.1 --save '' {persistence} --dir '{dir}' \
             --logfile '{dir}/redis.log' --pidfile '{dir}/redis.pid' & pid=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 0.5; done; \
             kill $pid 2>/dev/null",
            port = self.port,
            dir = self.dir.display(),
            parent = std::process::id(),
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis_answers(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its data is lost, like a crash without persistence).
    pub fn stop(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis_answers(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: a Redis that
    /// accepts connections but never answers.
    pub fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).expect("redis pid file");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// `redis://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Redis shared by every test in this binary (each test has its own key
/// prefix).
pub fn shared_redis() -> &'static TestRedis {
    static REDIS: OnceLock<TestRedis> = OnceLock::new();
    REDIS.get_or_init(TestRedis::start)
}

/// A running confab and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// HTTP client.
    pub client: reqwest::Client,
    /// Stops the server when dropped.
    _handle: Option<actix_web::dev::ServerHandle>,
}

/// The settings tests run with.
pub fn test_settings(redis_url: &str) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 1;
    s.redis.url = redis_url.into();
    s.redis.key_prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    s.redis.timeout_ms = 1000;
    s.auth.jwt_secret = Some(SecretString::from("test-secret-test-secret"));
    s
}

/// Starts confab on the shared Redis.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings(&shared_redis().url())).await
}

/// Starts confab with these settings.
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        confab::telemetry::init(confab::config::LogFormat::Text);
    }
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        _handle: Some(handle),
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// Body as text.
    pub text: String,
}

impl Reply {
    /// The problem `code` of an error reply.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }

    /// Asserts the status and, for errors, that the body is a problem
    /// document with this code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        assert_eq!(self.code(), code, "body: {}", self.text);
        assert_eq!(self.json["status"].as_u64(), Some(u64::from(status)));
        assert!(
            self.json["title"].is_string()
                && self.json["type"].is_string()
                && self.json["detail"].is_string()
        );
        if status == 401 {
            let www = self
                .headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            assert!(
                www.starts_with("Bearer"),
                "401 without WWW-Authenticate: Bearer"
            );
        }
    }

    /// Asserts the status.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        &self.json
    }
}

/// A registered, signed-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// User id.
    pub id: String,
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Access token.
    pub token: String,
}

impl TestApp {
    /// A client for a confab started elsewhere (another process).
    pub fn for_address(address: String) -> TestApp {
        TestApp {
            address,
            client: reqwest::Client::new(),
            _handle: None,
        }
    }

    /// Waits until `/readyz` answers 200 (Redis reachable), at most `timeout`.
    pub async fn wait_until_ready(&self, timeout: Duration) {
        eventually(timeout, || async {
            self.client
                .get(format!("{}/readyz", self.address))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
    }

    /// Sends a request; `token` adds a bearer header, `body` a JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// Reads a response whole.
    pub async fn read(res: reqwest::Response) -> Reply {
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
            text,
        }
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request(Method::GET, path, Some(token), None).await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    /// `POST /auth/register`.
    pub async fn register(&self, username: &str, password: &str) -> Reply {
        self.request(
            Method::POST,
            "/api/v1/auth/register",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// `POST /auth/login`.
    pub async fn login(&self, username: &str, password: &str) -> Reply {
        self.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await
    }

    /// Registers and signs in a user named `name`.
    pub async fn user(&self, name: &str) -> TestUser {
        let password = format!("{name}-password");
        let reg = self.register(name, &password).await;
        let id = reg.assert_status(201)["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let login = self.login(name, &password).await;
        let token = login.assert_status(200)["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        TestUser {
            id,
            username: name.into(),
            password,
            token,
        }
    }

    /// Creates a room as `user`; returns its id.
    pub async fn room(&self, user: &TestUser, name: &str) -> String {
        let reply = self
            .post("/api/v1/rooms", &user.token, json!({"name": name}))
            .await;
        reply.assert_status(201)["id"]
            .as_str()
            .expect("room id")
            .to_owned()
    }

    /// `user` joins the room.
    pub async fn join(&self, user: &TestUser, room_id: &str) -> Reply {
        self.request(
            Method::PUT,
            &format!("/api/v1/rooms/{room_id}/members/me"),
            Some(&user.token),
            None,
        )
        .await
    }

    /// `user` sends `body` to the room.
    pub async fn send(&self, user: &TestUser, room_id: &str, body: &str) -> Reply {
        self.post(
            &format!("/api/v1/rooms/{room_id}/messages"),
            &user.token,
            json!({"body": body}),
        )
        .await
    }

    /// `user` sends a direct message to `to`.
    pub async fn send_direct(&self, user: &TestUser, to: &str, body: &str) -> Reply {
        self.post(
            &format!("/api/v1/users/{to}/messages"),
            &user.token,
            json!({"body": body}),
        )
        .await
    }
}

/// Ids of the messages in a history page.
pub fn ids(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Bodies of the messages in a history page.
pub fn bodies(page: &Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["body"].as_str().expect("body").to_owned())
        .collect()
}

/// Waits for `cond` to hold, polling; panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !cond().await {
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestApp {
    /// `user` leaves the room.
    pub async fn leave(&self, user: &TestUser, room_id: &str) -> Reply {
        self.request(
            Method::DELETE,
            &format!("/api/v1/rooms/{room_id}/members/me"),
            Some(&user.token),
            None,
        )
        .await
    }

    /// `user` sends `body` to the room with an idempotency key.
    pub async fn send_with_client_id(
        &self,
        user: &TestUser,
        room_id: &str,
        body: &str,
        client_id: &str,
    ) -> Reply {
        self.post(
            &format!("/api/v1/rooms/{room_id}/messages"),
            &user.token,
            json!({"body": body, "client_id": client_id}),
        )
        .await
    }

    /// Sends a raw body to `path` with a bearer token and, when given, a
    /// `Content-Type`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(token)
            .body(body);
        if let Some(content_type) = content_type {
            req = req.header("content-type", content_type);
        }
        Self::read(req.send().await.expect("request sent")).await
    }
}

/// The `items` of a list page.
pub fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("items")
}

/// The `id`s of the `items` of a list page.
pub fn item_ids(page: &Value) -> Vec<String> {
    items(page)
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A message id `<ms>-<seq>` as a pair that orders like the ids do.
#[track_caller]
pub fn parse_message_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id
        .split_once('-')
        .unwrap_or_else(|| panic!("not a message id: {id}"));
    (
        ms.parse()
            .unwrap_or_else(|_| panic!("not a message id: {id}")),
        seq.parse()
            .unwrap_or_else(|_| panic!("not a message id: {id}")),
    )
}

/// Whether `s` is an RFC 3339 UTC time with milliseconds.
pub fn is_timestamp(s: &Value) -> bool {
    s.as_str().is_some_and(|s| {
        s.len() == 24
            && s.ends_with('Z')
            && s.as_bytes()[10] == b'T'
            && s.as_bytes()[19] == b'.'
            && s[20..23].bytes().all(|b| b.is_ascii_digit())
    })
}

/// The public view of a user nobody has seen online.
pub fn offline_public_user(user: &TestUser) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "display_name": user.username,
        "online": false,
        "last_seen_at": null,
    })
}

/// How a user appears as the sender or recipient of a message.
pub fn user_lite(user: &TestUser) -> Value {
    json!({"id": user.id, "username": user.username, "display_name": user.username})
}

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

/// A client side of an open event stream, read as a browser would.
pub struct EventStream {
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body, as it arrives.
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>>>>,
    /// Received text not yet parsed into events.
    buffer: String,
    /// Comment lines seen (`: ping`).
    pub comments: Vec<String>,
    /// `retry:` values seen.
    pub retries: Vec<String>,
}

impl EventStream {
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
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
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
                    return Ok(Some(event));
                }
                continue;
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

impl TestApp {
    /// Opens an event stream at `path_and_query` with extra headers;
    /// returns the stream, or the error reply.
    pub async fn open_events(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<EventStream, Reply> {
        let mut req = self
            .client
            .get(format!("{}{}", self.address, path_and_query));
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.expect("request sent");
        if res.status() != 200 {
            return Err(Self::read(res).await);
        }
        Ok(EventStream {
            headers: res.headers().clone(),
            body: Box::pin(res.bytes_stream()),
            buffer: String::new(),
            comments: Vec::new(),
            retries: Vec::new(),
        })
    }

    /// Opens `user`'s event stream with their bearer token and reads `ready`.
    pub async fn events(&self, user: &TestUser) -> (EventStream, Value) {
        let auth = format!("Bearer {}", user.token);
        let mut stream = self
            .open_events("/api/v1/events", &[("authorization", &auth)])
            .await
            .unwrap_or_else(|r| panic!("stream refused: {}", r.text));
        let ready = stream.expect("ready").await.data;
        (stream, ready)
    }

    /// Opens `user`'s event stream resuming after `last_event_id`.
    pub async fn events_after(&self, user: &TestUser, last_event_id: &str) -> (EventStream, Value) {
        let auth = format!("Bearer {}", user.token);
        let mut stream = self
            .open_events(
                "/api/v1/events",
                &[("authorization", &auth), ("last-event-id", last_event_id)],
            )
            .await
            .unwrap_or_else(|r| panic!("stream refused: {}", r.text));
        let ready = stream.expect("ready").await.data;
        (stream, ready)
    }
}

/// Calls `attempt` until it gives `Some`, polling; panics after `timeout`.
pub async fn eventually_some<T, F, Fut>(timeout: Duration, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestApp {
    /// `POST /api/v1/admin/notifications` with `X-Admin-Key: key` (none when
    /// `None`).
    pub async fn admin_notify(&self, key: Option<&str>, body: Value) -> Reply {
        let mut req = self
            .client
            .post(format!("{}/api/v1/admin/notifications", self.address))
            .json(&body);
        if let Some(key) = key {
            req = req.header("x-admin-key", key);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    /// Every message id of a room's history, oldest first, read page by page
    /// (100 at a time, walking back with `before`).
    pub async fn all_message_ids(&self, user: &TestUser, room_id: &str) -> Vec<String> {
        let mut all: Vec<String> = Vec::new();
        let mut path = format!("/api/v1/rooms/{room_id}/messages?limit=100");
        for _ in 0..10_000 {
            let page = self.get(&path, &user.token).await;
            let page = page.assert_status(200);
            let mut older = ids(page);
            let more = page["has_more"].as_bool().expect("has_more");
            older.append(&mut all);
            all = older;
            if !more {
                return all;
            }
            let first = all.first().expect("a page with has_more is not empty");
            path = format!("/api/v1/rooms/{room_id}/messages?limit=100&before={first}");
        }
        panic!("history paging did not end");
    }
}
