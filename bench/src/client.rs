//! Talking to confab over HTTP as a client does: register and log in, create
//! and join rooms, send messages, open event streams. Each step checks its
//! status and fails the run with confab's answer when it is not the expected
//! one, so a misconfigured server is reported instead of measured.

use anyhow::{Context, bail};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::bench::Bench;
use crate::events::Events;

impl Bench {
    /// The URL of an API path (`/rooms` -> `<url>/api/v1/rooms`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// POSTs JSON, with a bearer token when given: (status, JSON body or
    /// `Null`).
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self.http.post(self.api(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// POSTs JSON and fails unless confab answers `expected`; `what` names
    /// the step in the error.
    async fn post_expecting(
        &self,
        what: &str,
        expected: u16,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.post(path, token, body).await?;
        if status != expected {
            bail!("{what}: {status} {body}");
        }
        Ok(body)
    }

    /// Registers and logs in a fresh user: (token, id).
    pub async fn user(&self, name: &str) -> anyhow::Result<(String, String)> {
        let username = format!("{name}{}", self.run);
        let credentials = json!({"username": username, "password": "bench-password"});
        let registered = self
            .post_expecting(
                &format!("register {username}"),
                201,
                "/auth/register",
                None,
                credentials.clone(),
            )
            .await?;
        let id = registered["id"].as_str().unwrap_or_default().to_owned();
        let login = self
            .post_expecting(
                &format!("login {username}"),
                200,
                "/auth/login",
                None,
                credentials,
            )
            .await?;
        Ok((
            login["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            id,
        ))
    }

    /// Registers and logs in `count` fresh users named `<name><i>-`,
    /// `parallel` at a time (each costs two Argon2 hashes on the server, so
    /// one at a time would make setup the slow part): (token, id) in order.
    pub async fn users(
        &self,
        name: &str,
        count: usize,
        parallel: usize,
    ) -> anyhow::Result<Vec<(String, String)>> {
        futures_util::stream::iter((0..count).map(|i| self.user_owned(format!("{name}{i}-"))))
            .buffered(parallel)
            .try_collect()
            .await
    }

    /// [`Bench::user`] with an owned name (for [`Bench::users`]'s futures).
    async fn user_owned(&self, name: String) -> anyhow::Result<(String, String)> {
        self.user(&name).await
    }

    /// Every holder of `tokens` joins every room of `rooms`, `parallel`
    /// joins at a time.
    pub async fn join_many(
        &self,
        tokens: &[&str],
        rooms: &[String],
        parallel: usize,
    ) -> anyhow::Result<()> {
        let joins = tokens
            .iter()
            .flat_map(|t| rooms.iter().map(move |r| self.join(t, r)));
        futures_util::stream::iter(joins)
            .buffer_unordered(parallel)
            .try_collect::<()>()
            .await
    }

    /// Creates a room named `name` plus the run tag; returns its id.
    pub async fn room(&self, token: &str, name: &str) -> anyhow::Result<String> {
        let body = self
            .post_expecting(
                "create room",
                201,
                "/rooms",
                Some(token),
                json!({"name": format!("{name}{}", self.run)}),
            )
            .await?;
        Ok(body["id"].as_str().unwrap_or_default().to_owned())
    }

    /// The holder of `token` joins `room`.
    pub async fn join(&self, token: &str, room: &str) -> anyhow::Result<()> {
        let res = self
            .http
            .put(self.api(&format!("/rooms/{room}/members/me")))
            .bearer_auth(token)
            .send()
            .await?;
        if res.status() != 200 {
            bail!("join: {}", res.status());
        }
        Ok(())
    }

    /// Sends `body` to `room`; `what` names the scenario in the error.
    pub async fn send_message(
        &self,
        what: &str,
        token: &str,
        room: &str,
        body: String,
    ) -> anyhow::Result<()> {
        self.post_expecting(
            what,
            201,
            &format!("/rooms/{room}/messages"),
            Some(token),
            json!({ "body": body }),
        )
        .await?;
        Ok(())
    }

    /// Requests an event stream and returns it unread (a scenario that times
    /// `ready` starts its clock before this).
    pub async fn open_stream(&self, token: &str) -> anyhow::Result<Events> {
        self.open_stream_after(token, None).await
    }

    /// Requests an event stream that resumes after `last_event_id` (sent as
    /// the `Last-Event-ID` header, as `EventSource` does), returned unread.
    pub async fn open_stream_after(
        &self,
        token: &str,
        last_event_id: Option<&str>,
    ) -> anyhow::Result<Events> {
        self.open_stream_via(&self.http, token, last_event_id).await
    }

    /// [`Bench::open_stream_after`] over the client `http` (`idle-max`
    /// opens streams from several source addresses, one client each).
    async fn open_stream_via(
        &self,
        http: &reqwest::Client,
        token: &str,
        last_event_id: Option<&str>,
    ) -> anyhow::Result<Events> {
        let mut req = http.get(self.api("/events")).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = req.send().await?;
        if res.status() != 200 {
            bail!(
                "stream: {} {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
        Ok(Events::new(res))
    }

    /// Opens a stream; returns it once `ready` has arrived.
    pub async fn stream(&self, token: &str) -> anyhow::Result<Events> {
        self.stream_via(&self.http, token).await
    }

    /// [`Bench::stream`] over the client `http`.
    pub async fn stream_via(&self, http: &reqwest::Client, token: &str) -> anyhow::Result<Events> {
        let mut events = self.open_stream_via(http, token, None).await?;
        let ready = events.next().await.context("stream ended before ready")?;
        if ready.0 != "ready" {
            bail!("first event was {}", ready.0);
        }
        Ok(events)
    }

    /// Waits until confab has recorded that `user_id` holds no stream (it
    /// notices a closed stream a moment after the client drops it, then
    /// stores the stream's position): what a scenario about an offline
    /// user's return waits for before anything is sent to them.
    pub async fn wait_offline(&self, user_id: &str) -> anyhow::Result<()> {
        let mut conn = self.redis().await?;
        let key = self.keys.user_streams(user_id);
        let started = std::time::Instant::now();
        loop {
            let open: u64 = redis::cmd("ZCARD").arg(&key).query_async(&mut conn).await?;
            if open == 0 {
                return Ok(());
            }
            if started.elapsed() > std::time::Duration::from_secs(10) {
                bail!("confab still records {open} streams of {user_id} 10 s after they closed");
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Opens `count` streams for one user, `batch` at a time (all at once
    /// would be a connection storm that measures the listen backlog).
    pub async fn streams(
        &self,
        token: &str,
        count: usize,
        batch: usize,
    ) -> anyhow::Result<Vec<Events>> {
        let mut opened = Vec::with_capacity(count);
        while opened.len() < count {
            let n = batch.min(count - opened.len());
            let batch = futures_util::future::join_all((0..n).map(|_| self.stream(token))).await;
            for s in batch {
                opened.push(s?);
            }
        }
        Ok(opened)
    }
}
