//! `members`: the `send` load (C senders, each its own user, posting to R
//! rooms as fast as confab answers, for T seconds) into rooms that also have
//! M members without streams, once per M. A message is written once to its
//! room's Stream whoever the members are, so Redis CPU and memory per
//! message should not depend on M.
//!
//! The senders are users registered and joined over the API. The members
//! without streams are written into Redis directly, by the scripts confab
//! runs on a join (`join_room.lua`, then `touch_recency.lua` on the user's
//! rooms): registering and logging in 1,000 users over the API costs the
//! server 2,000 Argon2 hashes, about 30 s of setup on two cores, and a member
//! without a stream is, to a send, nothing but an entry in the room's
//! members (they have no user hash, which nothing here reads).

use std::time::Instant;

use futures_util::{StreamExt, TryStreamExt};

use crate::bench::Bench;

/// Requests (or script calls) in flight while setting up.
const SETUP_PARALLEL: usize = 32;

impl Bench {
    pub async fn members(
        &mut self,
        member_counts: &[usize],
        senders: usize,
        rooms: usize,
        seconds: u64,
    ) -> anyhow::Result<()> {
        let setup = Instant::now();
        let (owner, _) = self.user("memowner").await?;
        let senders = self.users("memsender", senders, SETUP_PARALLEL).await?;
        eprintln!(
            "members: {} senders registered in {:.1} s",
            senders.len(),
            setup.elapsed().as_secs_f64()
        );
        let sender_tokens: Vec<String> = senders.into_iter().map(|(t, _)| t).collect();
        for &m in member_counts {
            let params = format!(
                "{} senders, {rooms} rooms, {m} more members, {seconds} s",
                sender_tokens.len()
            );
            let setup = Instant::now();
            let mut room_ids = Vec::new();
            for r in 0..rooms {
                room_ids.push(self.room(&owner, &format!("mem{m}r{r}-")).await?);
            }
            let joiners: Vec<&str> = sender_tokens.iter().map(String::as_str).collect();
            self.join_many(&joiners, &room_ids, SETUP_PARALLEL).await?;
            self.join_directly(&room_ids, m).await?;
            eprintln!(
                "members: {rooms} rooms of {} members set up in {:.1} s",
                joiners.len() + m + 1,
                setup.elapsed().as_secs_f64()
            );
            let memory_before = self.redis_used_memory().await?;
            let cpu_before = self.redis_cpu_secs().await?;
            let load = self
                .send_load(sender_tokens.clone(), &room_ids, seconds)
                .await?;
            let cpu = self.redis_cpu_secs().await? - cpu_before;
            let memory = self.redis_used_memory().await? as f64 - memory_before as f64;
            let accepted = load.accepted.len();
            self.row(
                "members",
                &params,
                "accepted messages/s",
                accepted as f64 / load.elapsed,
                "msg/s",
            );
            self.latency_rows(
                "members",
                &params,
                "latency",
                &load.accepted,
                &[("p50", 0.5), ("p99", 0.99)],
            );
            self.row(
                "members",
                &params,
                "failed requests",
                load.errors as f64,
                "requests",
            );
            self.redis_rows("members", &params, cpu, load.elapsed, accepted);
            if accepted > 0 {
                self.row(
                    "members",
                    &params,
                    "Redis memory per message",
                    memory / accepted as f64,
                    "bytes",
                );
            }
        }
        Ok(())
    }

    /// Makes `count` users without streams (ids of confab's form, made up for
    /// this run) members of every room of `rooms`, with confab's own join
    /// scripts.
    async fn join_directly(&self, rooms: &[String], count: usize) -> anyhow::Result<()> {
        let lib = include_str!("../../../src/store/scripts/lib.lua");
        let join = redis::Script::new(&format!(
            "{lib}\n{}",
            include_str!("../../../src/store/scripts/join_room.lua")
        ));
        let touch = redis::Script::new(&format!(
            "{lib}\n{}",
            include_str!("../../../src/store/scripts/touch_recency.lua")
        ));
        let conn = self.redis().await?;
        let run: u64 = self.run.parse().unwrap_or(0);
        let calls = rooms.iter().flat_map(|room| {
            (0..count).map(move |i| (room, format!("{run:08x}-0000-4000-8000-{i:012x}")))
        });
        futures_util::stream::iter(calls)
            .map(|(room, user)| {
                let (mut conn, join, touch) = (conn.clone(), &join, &touch);
                async move {
                    let now = crate::stats::now_ns() / 1_000_000;
                    join.key(self.keys.room(room))
                        .key(self.keys.room_members(room))
                        .arg(&user)
                        .arg(now as u64)
                        .invoke_async::<redis::Value>(&mut conn)
                        .await?;
                    touch
                        .key(self.keys.user_rooms(&user))
                        .arg(now as u64)
                        .arg(room)
                        .arg("NX")
                        .invoke_async::<redis::Value>(&mut conn)
                        .await?;
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(SETUP_PARALLEL * 2)
            .try_collect::<()>()
            .await
    }
}
