//! Clients that hold sockets: bodies sent a byte at a time get 408 and lose
//! their connection at the body deadline, and connections over a cap are
//! refused (health checks aside) and counted out once closed. Spoken over
//! raw sockets, since an HTTP library would not send this way.

use std::time::{Duration, Instant};

use crate::helpers::*;

/// The body deadline these tests configure.
const BODY_TIMEOUT: Duration = Duration::from_millis(300);

/// How a slow body is framed.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// `Content-Length: 1000`, then one byte at a time.
    Length,
    /// `Transfer-Encoding: chunked`, one one-byte chunk at a time.
    Chunked,
}

/// Opens a connection, sends `head` (request line and headers, without the
/// blank line) and then a body of `framing`, one byte every 50 ms from
/// another task, starting with `{`. Returns the answer, how long after the
/// headers it came, and the connection's reader.
async fn send_slowly(
    app: &TestApp,
    head: &str,
    framing: Framing,
) -> (RawReply, Duration, RawReader) {
    let mut conn = RawConnection::open(&app.address).await;
    let framing_header = match framing {
        Framing::Length => "Content-Length: 1000",
        Framing::Chunked => "Transfer-Encoding: chunked",
    };
    conn.send(format!("{head}\r\n{framing_header}\r\n\r\n").as_bytes())
        .await;
    let started = Instant::now();
    let RawConnection {
        mut reader,
        mut writer,
    } = conn;
    // Keeps writing until the server closes the connection (or 10 s pass).
    actix_web::rt::spawn(async move {
        use tokio::io::AsyncWriteExt;
        for byte in std::iter::once(b'{')
            .chain(std::iter::repeat(b' '))
            .take(200)
        {
            let piece = match framing {
                Framing::Length => vec![byte],
                Framing::Chunked => format!("1\r\n{}\r\n", byte as char).into_bytes(),
            };
            if writer.write_all(&piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let reply = reader.reply(Duration::from_secs(5)).await;
    let elapsed = started.elapsed();
    (reply, elapsed, reader)
}

#[actix_web::test]
async fn a_body_sent_too_slowly_gets_408_and_its_connection_is_closed() {
    let app = spawn_app_configured(|s| {
        s.server.body_timeout_ms = BODY_TIMEOUT.as_millis() as u64;
        s.auth.admin_key = Some("admin-key-admin-key".to_owned().into());
    })
    .await;
    let json = "Content-Type: application/json";
    let cases = [
        format!("POST /api/v1/auth/register HTTP/1.1\r\nHost: confab\r\n{json}"),
        format!(
            "POST /api/v1/admin/notifications HTTP/1.1\r\nHost: confab\r\n{json}\r\n\
             X-Admin-Key: admin-key-admin-key"
        ),
    ];

    for head in &cases {
        for framing in [Framing::Length, Framing::Chunked] {
            let (reply, elapsed, mut reader) = send_slowly(&app, head, framing).await;

            let context = format!("{head:?} {framing:?}: {reply:?} after {elapsed:?}");
            reply.assert_problem(408, "request_timeout");
            assert!(
                // The deadline runs from the end of the headers, which the
                // server may see a moment before this client starts its clock.
                elapsed >= BODY_TIMEOUT / 2 && elapsed < BODY_TIMEOUT + Duration::from_secs(1),
                "{context}"
            );
            assert!(reply.closes(), "{context}");
            assert!(
                reader.closed_within(Duration::from_secs(3)).await,
                "{context}: the connection stayed open"
            );
        }
    }
}

#[actix_web::test]
async fn a_slow_body_nobody_reads_does_not_hold_its_connection() {
    let app = spawn_app_configured(|s| s.server.body_timeout_ms = 60_000).await;
    // Refused before the body is read (no token), and a route that takes
    // no body at all: actix would drain a chunked body to its end.
    let cases = [
        (
            "POST /api/v1/rooms HTTP/1.1\r\nHost: confab\r\nContent-Type: application/json",
            401,
        ),
        (
            "PUT /api/v1/rooms/some-room/members/me HTTP/1.1\r\nHost: confab",
            401,
        ),
        ("GET /healthz HTTP/1.1\r\nHost: confab", 200),
    ];

    for (head, status) in cases {
        for framing in [Framing::Length, Framing::Chunked] {
            let (reply, elapsed, mut reader) = send_slowly(&app, head, framing).await;

            let context = format!("{head:?} {framing:?}: {reply:?} after {elapsed:?}");
            assert_eq!(reply.status, status, "{context}");
            assert!(elapsed < Duration::from_secs(2), "{context}");
            assert!(reply.closes(), "{context}");
            assert!(
                reader.closed_within(Duration::from_secs(3)).await,
                "{context}: the connection stayed open"
            );
        }
    }
}

#[actix_web::test]
async fn a_body_within_the_deadline_is_read_as_usual() {
    let app = spawn_app_configured(|s| s.server.body_timeout_ms = 2_000).await;
    let body = r#"{"username": "slowpoke", "password": "slow-password"}"#;
    let mut conn = RawConnection::open(&app.address).await;
    conn.send(
        format!(
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: confab\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await;

    for piece in body.as_bytes().chunks(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        conn.send(piece).await;
    }
    let reply = conn.reader.reply(Duration::from_secs(5)).await;

    assert_eq!(reply.status, 201, "{reply:?}");
    assert!(!reply.closes(), "{reply:?}");
    assert_eq!(conn.get("/healthz").await.status, 200);
}

/// Opens connections from 127.0.0.1 up to a cap of `cap`, then checks that
/// one more is refused (503, closed) while health checks still answer on
/// it, and that closing a served connection makes room for a new one.
async fn assert_connections_capped_at(app: &TestApp, cap: usize, detail: &str) {
    let mut served = Vec::new();
    for _ in 0..cap {
        let mut conn = RawConnection::open(&app.address).await;
        // An answer means the server has accepted (and counted) it.
        assert_eq!(conn.get("/healthz").await.status, 200);
        served.push(conn);
    }

    let mut over = RawConnection::open(&app.address).await;
    let refused = over.get("/api/v1/rooms").await;
    refused.assert_problem(503, "unavailable");
    assert!(
        refused.json["detail"].as_str().unwrap().contains(detail),
        "{refused:?}"
    );
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    assert!(refused.closes(), "{refused:?}");
    assert!(over.reader.closed_within(Duration::from_secs(3)).await);
    for path in ["/healthz", "/readyz"] {
        let mut over = RawConnection::open(&app.address).await;
        let health = over.get(path).await;
        assert_eq!(health.status, 200, "{path} over the cap: {health:?}");
        assert!(
            ["ok", "ready"].contains(&health.text.as_str()),
            "{health:?}"
        );
        assert!(health.closes(), "{health:?}");
    }
    // The served connections still are.
    for conn in &mut served {
        assert_eq!(conn.get("/api/v1/nope").await.status, 404);
    }

    drop(served.pop());
    eventually(Duration::from_secs(5), || async {
        let mut conn = RawConnection::open(&app.address).await;
        conn.get("/api/v1/nope").await.status == 404
    })
    .await;
}

#[actix_web::test]
async fn connections_over_the_per_address_cap_get_503_but_health_checks_answer() {
    let app = spawn_app_configured(|s| s.server.max_connections_per_address = 3).await;

    assert_connections_capped_at(&app, 3, "your address").await;

    // Once the test's connections are counted out, metrics answer.
    let metrics = eventually_some(Duration::from_secs(5), || async {
        let reply = app.get_anonymous("/metrics").await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    let refused = metrics
        .text
        .lines()
        .find_map(|l| l.strip_prefix("confab_connections_refused_total{cap=\"address\"} "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{}", metrics.text));
    assert!(refused >= 3, "{refused}");
    assert!(metrics.text.contains("\nconfab_open_connections "));
}

#[actix_web::test]
async fn connections_over_the_instance_cap_get_503_but_health_checks_answer() {
    let app = spawn_app_configured(|s| {
        s.server.max_connections = 2;
        s.server.max_connections_per_address = 0;
    })
    .await;

    assert_connections_capped_at(&app, 2, "this instance").await;
}
