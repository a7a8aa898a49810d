//! A confab server per test and an HTTP client for it. Each server listens
//! on port 0 and gets its own key prefix on the shared Redis, so tests run
//! in parallel without seeing each other's users, rooms or messages. The
//! typed helpers speak the public API exactly as a client would (bearer
//! tokens, JSON bodies), and every reply is read whole into a [`Reply`].

use std::time::Duration;

use confab::config::Settings;
use confab::startup::Application;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::json::ids;
use super::redis_server::shared_redis;
use super::sse::EventStream;
use super::wait::eventually;

/// A running confab and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// `http://127.0.0.1:<port>` of the operations listener, when
    /// `server.metrics_bind` is set.
    pub metrics_address: Option<String>,
    /// HTTP client. It does not follow redirects, so tests see the `3xx`
    /// confab answers.
    pub client: reqwest::Client,
    /// Stops the server when dropped (`None` for a server in another
    /// process).
    _handle: Option<actix_web::dev::ServerHandle>,
}

/// The settings tests run with: an ephemeral port, one worker, a fresh key
/// prefix, a short Redis timeout (fault tests wait for it) and a fixed JWT
/// secret.
pub fn test_settings(redis_url: &str) -> Settings {
    let mut s = Settings::default();
    s.server.bind = "127.0.0.1:0".into();
    s.server.workers = 1;
    s.redis.url = redis_url.into();
    s.redis.key_prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    s.redis.timeout_ms = 1000;
    s.auth.jwt_secret = Some(SecretString::from("test-secret-test-secret-test-secret"));
    s
}

/// The settings of an app on the shared Redis: a Redis Cluster when
/// `CONFAB_TEST_REDIS_CLUSTER_NODES` names one (`scripts/cluster.sh start`
/// prints it), otherwise the throwaway Redis this binary started.
pub fn shared_settings() -> Settings {
    match std::env::var("CONFAB_TEST_REDIS_CLUSTER_NODES") {
        Ok(nodes) if !nodes.trim().is_empty() => {
            let mut settings = test_settings("redis://unused");
            settings.redis.cluster_nodes = nodes.split(',').map(|n| n.trim().to_owned()).collect();
            settings
        }
        _ => test_settings(&shared_redis().url()),
    }
}

/// Starts confab on the shared Redis.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(shared_settings()).await
}

/// Starts confab on the shared Redis with the test settings changed by
/// `configure` (a lower limit, a shorter TTL), for tests of that setting.
pub async fn spawn_app_configured(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = shared_settings();
    configure(&mut settings);
    spawn_app_with(settings).await
}

/// Starts two confab instances on the shared Redis with one key prefix: two
/// replicas of one deployment, for tests of what crosses between them.
pub async fn spawn_two_instances() -> (TestApp, TestApp) {
    let settings = shared_settings();
    let one = spawn_app_with(settings.clone()).await;
    let two = spawn_app_with(settings).await;
    (one, two)
}

/// Starts confab with these settings. Set `TEST_LOG` to see its logs.
pub async fn spawn_app_with(settings: Settings) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        confab::telemetry::init(confab::config::LogFormat::Text);
    }
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = app
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        metrics_address,
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

/// Requests of any shape: the building blocks the typed helpers below use.
impl TestApp {
    /// A client for a confab started elsewhere (another process).
    pub fn for_address(address: String) -> TestApp {
        TestApp {
            address,
            metrics_address: None,
            client: reqwest::Client::new(),
            _handle: None,
        }
    }

    /// The same server seen from another client address: requests leave
    /// from `ip`, which may be any 127.x.y.z (Linux routes all of 127/8 to
    /// the loopback interface), for tests of per-address limits. confab
    /// sees the TCP peer's address.
    pub fn connecting_from(&self, ip: &str) -> TestApp {
        let ip: std::net::IpAddr = ip.parse().expect("an IP address");
        TestApp {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(ip)
                .build()
                .expect("client"),
            metrics_address: self.metrics_address.clone(),
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

    /// GET without a token: the public endpoints (health, metrics, the API
    /// document, the web page).
    pub async fn get_anonymous(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None, None).await
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

    /// PUT JSON with a token.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// PATCH JSON with a token.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// DELETE with a token.
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.request(Method::DELETE, path, Some(token), None).await
    }
}

/// One helper per API call tests make often, named after what the user does.
impl TestApp {
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
        self.membership(Method::PUT, user, room_id).await
    }

    /// `user` leaves the room.
    pub async fn leave(&self, user: &TestUser, room_id: &str) -> Reply {
        self.membership(Method::DELETE, user, room_id).await
    }

    /// `PUT` (join) or `DELETE` (leave) on `user`'s own membership.
    async fn membership(&self, method: Method, user: &TestUser, room_id: &str) -> Reply {
        let path = format!("/api/v1/rooms/{room_id}/members/me");
        self.request(method, &path, Some(&user.token), None).await
    }

    /// `user` sends `body` to the room.
    pub async fn send(&self, user: &TestUser, room_id: &str, body: &str) -> Reply {
        let path = format!("/api/v1/rooms/{room_id}/messages");
        self.post(&path, &user.token, json!({"body": body})).await
    }

    /// `user` sends `body` to the room with an idempotency key.
    pub async fn send_with_client_id(
        &self,
        user: &TestUser,
        room_id: &str,
        body: &str,
        client_id: &str,
    ) -> Reply {
        let path = format!("/api/v1/rooms/{room_id}/messages");
        let body = json!({"body": body, "client_id": client_id});
        self.post(&path, &user.token, body).await
    }

    /// `user` sends a direct message to `to`.
    pub async fn send_direct(&self, user: &TestUser, to: &str, body: &str) -> Reply {
        let path = format!("/api/v1/users/{to}/messages");
        self.post(&path, &user.token, json!({"body": body})).await
    }

    /// `user` sends `body` to `to` with an idempotency key.
    pub async fn send_direct_with_client_id(
        &self,
        user: &TestUser,
        to: &str,
        body: &str,
        client_id: &str,
    ) -> Reply {
        let path = format!("/api/v1/users/{to}/messages");
        let body = json!({"body": body, "client_id": client_id});
        self.post(&path, &user.token, body).await
    }

    /// `user` marks the room read up to `message_id`.
    pub async fn mark_read(&self, user: &TestUser, room_id: &str, message_id: &str) -> Reply {
        let path = format!("/api/v1/rooms/{room_id}/read");
        self.put(&path, &user.token, json!({"message_id": message_id}))
            .await
    }

    /// `user`'s entry for `room_id` in `GET /users/me/rooms`.
    pub async fn my_room(&self, user: &TestUser, room_id: &str) -> Value {
        let rooms = self
            .get("/api/v1/users/me/rooms?limit=100", &user.token)
            .await;
        rooms.assert_status(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["id"] == room_id)
            .unwrap_or_else(|| panic!("{room_id} is not among the user's rooms"))
            .clone()
    }

    /// `user`'s entry for the conversation with `other` in
    /// `GET /conversations`.
    pub async fn my_conversation(&self, user: &TestUser, other: &str) -> Value {
        let list = self
            .get("/api/v1/conversations?limit=100", &user.token)
            .await;
        list.assert_status(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|c| c["user"]["username"] == other)
            .unwrap_or_else(|| panic!("no conversation with {other}"))
            .clone()
    }

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

/// The cast of most room tests: alice creates `general`, bob joins it.
pub async fn room_with_two(app: &TestApp) -> (TestUser, TestUser, String) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let room = app.room(&alice, "general").await;
    app.join(&bob, &room).await.assert_status(200);
    (alice, bob, room)
}

/// Opening event streams (reading them is [`EventStream`]'s job).
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
        Ok(EventStream::new(res))
    }

    /// Opens `user`'s event stream with their bearer token and reads `ready`.
    pub async fn events(&self, user: &TestUser) -> (EventStream, Value) {
        self.events_with(user, &[]).await
    }

    /// Opens `user`'s event stream and reads past `ready` and the backlog
    /// it announces: what comes next is live.
    pub async fn live_events(&self, user: &TestUser) -> EventStream {
        let (mut stream, ready) = self.events(user).await;
        for _ in 0..ready["offline_count"].as_u64().expect("offline_count") {
            stream.next().await;
        }
        stream
    }

    /// Opens `user`'s event stream resuming after `last_event_id`.
    pub async fn events_after(&self, user: &TestUser, last_event_id: &str) -> (EventStream, Value) {
        self.events_with(user, &[("last-event-id", last_event_id)])
            .await
    }

    /// Opens `user`'s event stream with their bearer token and these extra
    /// headers; reads `ready` and returns its data.
    async fn events_with(&self, user: &TestUser, headers: &[(&str, &str)]) -> (EventStream, Value) {
        let auth = format!("Bearer {}", user.token);
        let mut all = vec![("authorization", auth.as_str())];
        all.extend_from_slice(headers);
        let mut stream = self
            .open_events("/api/v1/events", &all)
            .await
            .unwrap_or_else(|r| panic!("stream refused: {}", r.text));
        let ready = stream.expect("ready").await.data;
        (stream, ready)
    }
}
