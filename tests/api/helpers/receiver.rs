//! A webhook receiver for tests: a small HTTP server on a free port that
//! records every delivery (headers and JSON body) and answers as the test
//! tells it to: 2xx, a failure for the next few, or slowly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::Value;

use super::wait::eventually_some;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Its headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// Its body, raw (signatures cover these bytes).
    pub raw: String,
    /// Its body as JSON.
    pub body: Value,
    /// The status the receiver answered.
    pub answered: u16,
}

impl Delivery {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// `message.id` of the body.
    pub fn message_id(&self) -> String {
        self.body["message"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// How the receiver answers.
#[derive(Default)]
struct Behaviour {
    /// Everything received.
    got: Mutex<Vec<Delivery>>,
    /// Answer this many more requests with 500.
    fail_next: AtomicUsize,
    /// Answer every request with 503 while set.
    failing: AtomicBool,
    /// Answer the next request only after this many ms.
    delay_next_ms: AtomicU64,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    behaviour: Arc<Behaviour>,
    handle: actix_web::dev::ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    behaviour: web::Data<Behaviour>,
) -> HttpResponse {
    let delay = behaviour.delay_next_ms.swap(0, Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = behaviour.failing.load(Ordering::SeqCst);
    let fail = failing
        || behaviour
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let status = if failing {
        503
    } else if fail {
        500
    } else {
        204
    };
    let raw = String::from_utf8_lossy(&body).into_owned();
    let delivery = Delivery {
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
        answered: status,
    };
    behaviour.got.lock().unwrap().push(delivery);
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .body("receiver says so")
}

impl Receiver {
    /// Starts a receiver that answers 204.
    pub async fn start() -> Self {
        let behaviour = Arc::new(Behaviour::default());
        let data = web::Data::from(behaviour.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .expect("the receiver binds");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            behaviour,
            handle,
        }
    }

    /// Answers the next `n` requests with 500.
    pub fn fail_next(&self, n: usize) {
        self.behaviour.fail_next.store(n, Ordering::SeqCst);
    }

    /// Answers every request with 503 while `failing`.
    pub fn set_failing(&self, failing: bool) {
        self.behaviour.failing.store(failing, Ordering::SeqCst);
    }

    /// Answers the next request only after `delay`.
    pub fn delay_next(&self, delay: Duration) {
        self.behaviour
            .delay_next_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn all(&self) -> Vec<Delivery> {
        self.behaviour.got.lock().unwrap().clone()
    }

    /// The requests answered 2xx so far.
    pub fn acknowledged(&self) -> Vec<Delivery> {
        self.all()
            .into_iter()
            .filter(|d| (200..300).contains(&d.answered))
            .collect()
    }

    /// Waits until at least `n` requests were answered 2xx; returns them.
    pub async fn wait_acknowledged(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        eventually_some(timeout, || async {
            let acked = self.acknowledged();
            (acked.len() >= n).then_some(acked)
        })
        .await
    }

    /// Waits until at least `n` requests arrived (however answered).
    pub async fn wait_requests(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        eventually_some(timeout, || async {
            let all = self.all();
            (all.len() >= n).then_some(all)
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}
