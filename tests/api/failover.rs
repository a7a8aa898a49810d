//! A master of the Redis Cluster killed while messages are sent and a
//! stream is open: with `redis.acknowledge = "replicated"` no acknowledged
//! message is lost or stored twice, and the stream, resuming, gets each
//! exactly once. It kills a node, so it runs alone, on a cluster of its own:
//! `scripts/test.sh` runs it with `--ignored` after the other tests.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::{Duration, Instant};

use confab::config::Acknowledge;
use confab::store::Keys;
use confab::store::keys::slot;

use crate::helpers::*;

/// The state file `scripts/cluster.sh start` wrote, as variables.
fn cluster_state() -> HashMap<String, String> {
    let path =
        std::env::var("CLUSTER_STATE").expect("CLUSTER_STATE names the cluster's state file");
    std::fs::read_to_string(path)
        .expect("the cluster's state file")
        .lines()
        .filter_map(|line| line.trim_start_matches("export ").split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

/// The port of the master serving `slot`, from `CLUSTER NODES` on `port`.
async fn master_of(port: &str, slot: u16) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let nodes: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await
        .ok()?;
    nodes.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let is_live_master = fields.get(2)?.contains("master") && !fields[2].contains("fail");
        let serves = fields.iter().skip(8).any(|range| {
            let (lo, hi) = range.split_once('-').unwrap_or((range, range));
            matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if (lo..=hi).contains(&slot))
        });
        let port = fields.get(1)?.split('@').next()?.rsplit(':').next()?;
        (is_live_master && serves).then(|| port.to_owned())
    })
}

/// Opens `user`'s stream again, resuming after `token`, retrying while the
/// cluster answers 503 (a failover under way); reads `ready`.
async fn reopen(app: &TestApp, user: &TestUser, token: Option<&str>) -> EventStream {
    let auth = format!("Bearer {}", user.token);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut headers = vec![("authorization", auth.as_str())];
        if let Some(token) = token {
            headers.push(("last-event-id", token));
        }
        match app.open_events("/api/v1/events", &headers).await {
            Ok(mut stream) => {
                let ready = stream.expect("ready").await;
                if token.is_some() {
                    assert_eq!(ready.data["resumed"], true, "{:?}", ready.data);
                }
                return stream;
            }
            Err(reply) => {
                assert_eq!(reply.status, 503, "{}", reply.text);
                assert!(Instant::now() < deadline, "no stream for a minute");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[actix_web::test]
#[ignore = "kills a cluster node: run alone, on a cluster of its own (scripts/test.sh does)"]
async fn a_master_killed_while_sending_loses_and_repeats_no_acknowledged_message() {
    // Arrange: confab on the cluster, acknowledging once a replica has it.
    let state = cluster_state();
    let mut settings = shared_settings();
    assert!(
        !settings.redis.cluster_nodes.is_empty(),
        "needs CONFAB_TEST_REDIS_CLUSTER_NODES"
    );
    settings.redis.acknowledge = Acknowledge::Replicated;
    settings.redis.replication_timeout_ms = 500;
    settings.redis.timeout_ms = 2000;
    let keys = Keys::new(&settings.redis.key_prefix);
    let app = spawn_app_with(settings).await;
    let (alice, bob, room) = room_with_two(&app).await;
    let (mut stream, _) = app.events(&bob).await;
    let ports: Vec<String> = state["CLUSTER_PORTS"]
        .split(' ')
        .map(String::from)
        .collect();
    let pids: Vec<String> = state["CLUSTER_PIDS"].split(' ').map(String::from).collect();
    let room_slot = slot(&keys.room_messages(&room));
    let victim = master_of(&ports[0], room_slot)
        .await
        .expect("the room's master");

    // Act: alice sends 200 messages, retrying each (same client_id) until
    // it is acknowledged; after 50, the room's master is SIGKILLed, and
    // brought back (as a replica) once its replica has taken over.
    const COUNT: usize = 200;
    let sends = async {
        let mut acked = Vec::with_capacity(COUNT);
        for i in 0..COUNT {
            if i == 50 {
                let pid = &pids[ports.iter().position(|p| *p == victim).unwrap()];
                Command::new("kill").args(["-9", pid]).status().unwrap();
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let reply = app
                    .send_with_client_id(&alice, &room, &format!("m{i}"), &format!("c{i}"))
                    .await;
                if reply.status == 201 || reply.status == 200 {
                    acked.push(reply.json["id"].as_str().unwrap().to_owned());
                    break;
                }
                assert_eq!(reply.status, 503, "{}", reply.text);
                assert!(Instant::now() < deadline, "m{i} never acknowledged");
                // The killed node is back once its replica has taken over.
                if i >= 50 {
                    let live = ports.iter().find(|p| **p != victim).unwrap();
                    if master_of(live, room_slot)
                        .await
                        .is_some_and(|m| m != victim)
                    {
                        let _ = Command::new("scripts/cluster.sh")
                            .args(["restart", &victim])
                            .output();
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        acked
    };
    let acked = sends.await;

    // Assert: history holds every acknowledged message once...
    let history = app.all_message_ids(&bob, &room).await;
    let distinct: HashSet<&String> = history.iter().collect();
    assert_eq!(distinct.len(), history.len(), "no message stored twice");
    for id in &acked {
        assert!(
            history.contains(id),
            "{id} was acknowledged but is not in history"
        );
    }
    assert_eq!(history.len(), COUNT, "{history:?}");
    // ...and bob's stream, resuming after each drop, got each exactly once.
    let mut got: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < COUNT {
        assert!(Instant::now() < deadline, "got {} of {COUNT}", got.len());
        match stream.next_within(Duration::from_secs(5)).await {
            Some(event) if event.event == "message" => {
                token = Some(event.token());
                got.push(event.message_id());
            }
            Some(_) => {}
            None => stream = reopen(&app, &bob, token.as_deref()).await,
        }
    }
    let once: HashSet<&String> = got.iter().collect();
    assert_eq!(once.len(), got.len(), "a message reached the stream twice");
    let mut sorted = got.clone();
    sorted.sort();
    let mut want = acked.clone();
    want.sort();
    assert_eq!(sorted, want);
}
