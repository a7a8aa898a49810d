//! `ceiling`: confab's send script (the same Lua, the same keys and
//! arguments as `store::messages`) run directly on Redis by C concurrent
//! clients over one multiplexed connection, for T seconds. No HTTP, no
//! confab: the rate Redis alone allows, to read `send` against.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use confab::event::Event;
use confab::message::{RoomMessageRecord, UserLite};
use confab::store::Keys;

use super::TYPICAL_BODY;
use crate::bench::Bench;

impl Bench {
    pub async fn ceiling(&mut self, concurrency: usize, seconds: u64) -> anyhow::Result<()> {
        let members = 64;
        let params = format!("{concurrency} concurrent, {seconds} s, {members} offline members");
        let script = redis::Script::new(&format!(
            "{}\n{}",
            include_str!("../../../src/store/scripts/lib.lua"),
            include_str!("../../../src/store/scripts/send_room_message.lua")
        ));
        // A prefix of its own, so the ceiling never touches confab's data.
        let k = Keys::new(&format!("ceiling{}:", self.run));
        let room = "00000000-0000-4000-8000-000000000000";
        let mut conn = self.redis().await?;
        // The same shape as the send scenario: the sender and 64 other
        // members without streams (nothing is copied per member any more:
        // they read the Stream when they return).
        let mut setup = redis::pipe();
        setup.hset(k.room(room), "id", room).ignore();
        for m in 0..=members {
            setup
                .zadd(k.room_members(room), format!("u{m}"), m)
                .ignore();
        }
        setup.query_async::<()>(&mut conn).await?;
        // The message's event as confab encodes it for the script.
        let event = Event::RoomMessage(RoomMessageRecord {
            id: Default::default(),
            room_id: room.to_owned(),
            sender: UserLite {
                id: "u0".into(),
                username: "user".into(),
                display_name: "User".into(),
            },
            body: TYPICAL_BODY.into(),
            client_id: None,
            edit: Default::default(),
        })
        .to_json();
        let cpu_before = self.redis_cpu_secs().await?;
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let mut conn = conn.clone();
            let script = script.clone();
            let stop = stop.clone();
            let event = event.clone();
            let keys = [
                k.room(room),
                k.room_members(room),
                k.room_messages(room),
                k.room_senders(room),
                k.room_own(room, "u0"),
            ];
            let channel = k.room_channel(room);
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut inv = script.prepare_invoke();
                    for key in &keys {
                        inv.key(key);
                    }
                    inv.arg("u0")
                        .arg("user")
                        .arg("User")
                        .arg(TYPICAL_BODY)
                        .arg("")
                        .arg(100_000)
                        .arg(86400)
                        .arg("PUBLISH")
                        .arg(&channel)
                        .arg(0)
                        .arg(&event);
                    if inv.invoke_async::<redis::Value>(&mut conn).await.is_ok() {
                        n += 1;
                    }
                }
                n
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut total = 0;
        for t in tasks {
            total += t.await?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = self.redis_cpu_secs().await? - cpu_before;
        self.row(
            "ceiling",
            &params,
            "send script runs/s (Redis alone)",
            total as f64 / elapsed,
            "msg/s",
        );
        self.redis_rows("ceiling", &params, cpu, elapsed, total);
        let mut cleanup = redis::pipe();
        for key in [
            k.room(room),
            k.room_members(room),
            k.room_messages(room),
            k.room_senders(room),
            k.room_own(room, "u0"),
        ] {
            cleanup.del(key).ignore();
        }
        for m in 0..=members {
            cleanup.del(k.offline(&format!("u{m}"))).ignore();
        }
        cleanup.query_async::<()>(&mut conn).await?;
        Ok(())
    }
}
