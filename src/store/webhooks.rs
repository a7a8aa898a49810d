//! Outgoing webhooks in Redis. A webhook is a record in its room's hash of
//! webhooks plus one consumer group (`webhook:<id>`) on each of the room's
//! two streams, messages and changes (edits and deletes), created at their
//! end when the webhook is: the groups are the delivery queue, so a room
//! without webhooks costs nothing and a send writes nothing more. Every key
//! of a webhook is in its room's slot. The delivery side (which instance
//! delivers, retries, take-over) is `crate::webhooks`; this module is its
//! Redis primitives.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};

use super::messages::{Entries, entry_to_message, stream_id};
use super::{ScriptCall, Store, StoreError, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;

static CREATE_WEBHOOK: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/create_webhook.lua")));
static DELETE_WEBHOOK: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/delete_webhook.lua")));
static WEBHOOK_LEASE: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/webhook_lease.lua")));
static FINISH_DELIVERY: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/finish_webhook_delivery.lua")));
static WEBHOOK_ERROR: LazyLock<Script> =
    LazyLock::new(|| super::script(include_str!("scripts/webhook_error.lua")));

/// A webhook as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Random id.
    pub id: String,
    /// Its room.
    pub room_id: String,
    /// Where deliveries go.
    pub url: String,
    /// What it is for, as its creator said.
    pub description: Option<String>,
    /// Who added it.
    pub created_by: String,
    /// When (ms).
    pub created_ms: u64,
    /// Signs deliveries; shown once, when it is created.
    pub secret: String,
}

/// How a webhook's deliveries stand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Messages and changes not yet delivered or given up.
    pub pending: u64,
    /// Delivered (a 2xx answer).
    pub delivered: u64,
    /// Given up after retrying for the configured time.
    pub failed: u64,
    /// Why the last failed attempt failed.
    pub last_error: Option<String>,
    /// When the last delivery succeeded (ms).
    pub last_delivered_ms: Option<u64>,
}

/// What adding or removing a webhook found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookChange {
    /// The room does not exist.
    NoRoom,
    /// The caller is not a member.
    NotMember,
    /// The room has its maximum of webhooks.
    TooMany,
    /// No such webhook in the room.
    NotFound,
    /// Done.
    Done,
}

/// Which of a room's streams an entry is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    /// Messages.
    Messages,
    /// Edits and deletes.
    Changes,
}

/// A lease on a webhook's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// This instance holds it (taken or renewed).
    Held,
    /// Another instance holds it.
    Elsewhere,
    /// The webhook no longer exists.
    Gone,
}

/// An entry of a webhook's group, to deliver.
#[derive(Debug, Clone)]
pub struct WebhookEntry {
    /// Which stream it is in.
    pub feed: Feed,
    /// Its id there (a message's id, or a change's).
    pub id: MessageId,
    /// What to deliver: the message, or the change's event; `None` for an
    /// entry confab cannot read (acknowledged as failed, never retried).
    pub event: Option<Event>,
}

impl WebhookEntry {
    fn read(
        room_id: &str,
        feed: Feed,
        id: &str,
        fields: &HashMap<String, String>,
    ) -> StoreResult<Self> {
        let event = match feed {
            Feed::Messages => entry_to_message(room_id, stream_id(id)?, fields)
                .ok()
                .map(Event::RoomMessage),
            Feed::Changes => fields
                .get("e")
                .and_then(|json| Event::decode(&format!("{id} {json}"))),
        };
        Ok(Self {
            feed,
            id: stream_id(id)?,
            event,
        })
    }
}

/// The consumer group of a webhook.
pub fn group(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

impl Store {
    /// The stream `feed` of a room.
    fn feed_key(&self, room_id: &str, feed: Feed) -> String {
        match feed {
            Feed::Messages => self.keys.room_messages(room_id),
            Feed::Changes => self.keys.room_changes(room_id),
        }
    }

    /// Adds a webhook to a room the caller belongs to (up to `cap`), then
    /// lists it for the delivery workers.
    pub async fn create_webhook(
        &self,
        user_id: &str,
        webhook: &WebhookRecord,
        cap: u32,
    ) -> StoreResult<WebhookChange> {
        let k = &self.keys;
        let room = &webhook.room_id;
        let json =
            serde_json::to_string(webhook).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let reply: String = self
            .call(
                ScriptCall::new(&CREATE_WEBHOOK)
                    .key(k.room(room))
                    .key(k.room_members(room))
                    .key(k.room_webhooks(room))
                    .key(k.room_messages(room))
                    .key(k.room_changes(room))
                    .arg(user_id)
                    .arg(&webhook.id)
                    .arg(json)
                    .arg(cap)
                    .arg(group(&webhook.id)),
            )
            .await?;
        let change = change(&reply)?;
        if change == WebhookChange::Done {
            let mut conn = self.conn().await?;
            self.run(conn.zadd::<_, _, _, ()>(
                k.all_webhooks(),
                format!("{room}/{}", webhook.id),
                webhook.created_ms,
            ))
            .await?;
        }
        Ok(change)
    }

    /// Removes a webhook (any member may); its pending deliveries go with it.
    pub async fn delete_webhook(
        &self,
        room_id: &str,
        user_id: &str,
        webhook_id: &str,
    ) -> StoreResult<WebhookChange> {
        let k = &self.keys;
        let reply: String = self
            .call(
                ScriptCall::new(&DELETE_WEBHOOK)
                    .key(k.room(room_id))
                    .key(k.room_members(room_id))
                    .key(k.room_webhooks(room_id))
                    .key(k.room_messages(room_id))
                    .key(k.room_changes(room_id))
                    .key(k.webhook_stats(room_id, webhook_id))
                    .key(k.webhook_lease(room_id, webhook_id))
                    .arg(user_id)
                    .arg(webhook_id)
                    .arg(group(webhook_id)),
            )
            .await?;
        let change = change(&reply)?;
        if change == WebhookChange::Done {
            let mut conn = self.conn().await?;
            self.run(conn.zrem::<_, _, ()>(k.all_webhooks(), format!("{room_id}/{webhook_id}")))
                .await?;
        }
        Ok(change)
    }

    /// A room's webhooks, newest first.
    pub async fn room_webhooks(&self, room_id: &str) -> StoreResult<Vec<WebhookRecord>> {
        let mut conn = self.conn().await?;
        let values: Vec<String> = self
            .run(conn.hvals(self.keys.room_webhooks(room_id)))
            .await?;
        let mut hooks = values
            .iter()
            .map(|v| serde_json::from_str(v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .collect::<StoreResult<Vec<WebhookRecord>>>()?;
        hooks.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
        Ok(hooks)
    }

    /// One webhook of a room.
    pub async fn webhook(
        &self,
        room_id: &str,
        webhook_id: &str,
    ) -> StoreResult<Option<WebhookRecord>> {
        let mut conn = self.conn().await?;
        let value: Option<String> = self
            .run(conn.hget(self.keys.room_webhooks(room_id), webhook_id))
            .await?;
        value
            .map(|v| serde_json::from_str(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// How each webhook's deliveries stand: its counters, and what its
    /// consumer groups still hold (pending) or have not read yet (lag).
    pub async fn webhook_stats(&self, hooks: &[WebhookRecord]) -> StoreResult<Vec<WebhookStats>> {
        let k = &self.keys;
        let pipes = hooks
            .iter()
            .map(|hook| {
                let mut pipe = redis::pipe();
                pipe.hgetall(k.webhook_stats(&hook.room_id, &hook.id));
                for feed in [Feed::Messages, Feed::Changes] {
                    pipe.cmd("XINFO")
                        .arg("GROUPS")
                        .arg(self.feed_key(&hook.room_id, feed));
                }
                pipe
            })
            .collect();
        let replies = self.pipelines(pipes).await?;
        hooks
            .iter()
            .zip(replies)
            .map(|(hook, reply)| {
                let mut reply = reply.into_iter();
                let counters: HashMap<String, String> =
                    decode(reply.next().unwrap_or(redis::Value::Nil))?;
                let mut pending = 0;
                for groups in reply {
                    pending += group_backlog(groups, &group(&hook.id));
                }
                let number = |name: &str| counters.get(name).and_then(|v| v.parse().ok());
                Ok(WebhookStats {
                    pending,
                    delivered: number("delivered").unwrap_or(0),
                    failed: number("failed").unwrap_or(0),
                    last_error: counters.get("last_error").cloned(),
                    last_delivered_ms: number("last_delivered_at"),
                })
            })
            .collect()
    }

    /// Every webhook: (room id, webhook id).
    pub async fn all_webhooks(&self) -> StoreResult<Vec<(String, String)>> {
        let mut conn = self.conn().await?;
        let members: Vec<String> = self
            .run(conn.zrange(self.keys.all_webhooks(), 0, -1))
            .await?;
        Ok(members
            .into_iter()
            .filter_map(|m| {
                let (room, id) = m.split_once('/')?;
                Some((room.to_owned(), id.to_owned()))
            })
            .collect())
    }

    /// Takes or renews `instance`'s lease on a webhook's deliveries.
    pub async fn webhook_lease(
        &self,
        room_id: &str,
        webhook_id: &str,
        instance: &str,
        lease_ms: u64,
    ) -> StoreResult<Lease> {
        let k = &self.keys;
        let held: i64 = self
            .call(
                ScriptCall::new(&WEBHOOK_LEASE)
                    .key(k.webhook_lease(room_id, webhook_id))
                    .key(k.room_webhooks(room_id))
                    .arg(instance)
                    .arg(lease_ms)
                    .arg(webhook_id),
            )
            .await?;
        Ok(match held {
            1 => Lease::Held,
            0 => Lease::Elsewhere,
            _ => Lease::Gone,
        })
    }

    /// Gives a lease up (shutting down), if `instance` holds it.
    pub async fn release_webhook_lease(
        &self,
        room_id: &str,
        webhook_id: &str,
        instance: &str,
    ) -> StoreResult<()> {
        let key = self.keys.webhook_lease(room_id, webhook_id);
        let mut conn = self.conn().await?;
        let holder: Option<String> = self.run(conn.get(&key)).await?;
        if holder.as_deref() == Some(instance) {
            self.run(conn.del::<_, ()>(&key)).await?;
        }
        Ok(())
    }

    /// How many entries of a webhook's groups are read but not acknowledged
    /// (held by this or a stopped instance).
    pub async fn webhook_pending(&self, room_id: &str, webhook_id: &str) -> StoreResult<u64> {
        let mut total = 0;
        for feed in [Feed::Messages, Feed::Changes] {
            let mut conn = self.conn().await?;
            let summary: redis::Value = self
                .run(
                    redis::cmd("XPENDING")
                        .arg(self.feed_key(room_id, feed))
                        .arg(group(webhook_id))
                        .query_async(&mut conn),
                )
                .await?;
            if let redis::Value::Array(items) = summary
                && let Some(count) = items.into_iter().next()
            {
                total += decode::<u64>(count)?;
            }
        }
        Ok(total)
    }

    /// Claims the oldest entry of `feed` that another consumer of the
    /// webhook's group has held for at least `min_idle_ms` (a stopped
    /// instance's), for `consumer`.
    pub async fn claim_webhook_entry(
        &self,
        room_id: &str,
        webhook_id: &str,
        feed: Feed,
        consumer: &str,
        min_idle_ms: u64,
    ) -> StoreResult<Option<WebhookEntry>> {
        let mut conn = self.conn().await?;
        let reply: redis::Value = self
            .run(
                redis::cmd("XAUTOCLAIM")
                    .arg(self.feed_key(room_id, feed))
                    .arg(group(webhook_id))
                    .arg(consumer)
                    .arg(min_idle_ms)
                    .arg("0-0")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn),
            )
            .await?;
        let redis::Value::Array(parts) = reply else {
            return Err(StoreError::Corrupt("XAUTOCLAIM answered oddly".into()));
        };
        let entries: Entries = decode(parts.into_iter().nth(1).unwrap_or(redis::Value::Nil))?;
        entries
            .first()
            .map(|(id, fields)| WebhookEntry::read(room_id, feed, id, fields))
            .transpose()
    }

    /// Reads the next entry of each of `feeds` that no consumer of the
    /// webhook's groups has read yet, for `consumer`: one command for both
    /// streams (they share the room's slot).
    pub async fn read_webhook_entries(
        &self,
        room_id: &str,
        webhook_id: &str,
        feeds: &[Feed],
        consumer: &str,
    ) -> StoreResult<Vec<WebhookEntry>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group(webhook_id))
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("STREAMS");
        for feed in feeds {
            cmd.arg(self.feed_key(room_id, *feed));
        }
        for _ in feeds {
            cmd.arg(">");
        }
        let mut conn = self.conn().await?;
        let reply: Option<Vec<(String, Entries)>> = self.run(cmd.query_async(&mut conn)).await?;
        let mut entries = Vec::new();
        for (key, read) in reply.into_iter().flatten() {
            let feed = if key == self.feed_key(room_id, Feed::Changes) {
                Feed::Changes
            } else {
                Feed::Messages
            };
            for (id, fields) in read {
                entries.push(WebhookEntry::read(room_id, feed, &id, &fields)?);
            }
        }
        Ok(entries)
    }

    /// Acknowledges an entry and counts it delivered or given up (with
    /// `error`); false when the webhook is gone.
    pub async fn finish_webhook_delivery(
        &self,
        room_id: &str,
        webhook_id: &str,
        feed: Feed,
        entry_id: &str,
        failed: Option<&str>,
    ) -> StoreResult<bool> {
        let k = &self.keys;
        let done: i64 = self
            .call(
                ScriptCall::new(&FINISH_DELIVERY)
                    .key(k.room_webhooks(room_id))
                    .key(self.feed_key(room_id, feed))
                    .key(k.webhook_stats(room_id, webhook_id))
                    .arg(webhook_id)
                    .arg(group(webhook_id))
                    .arg(entry_id)
                    .arg(if failed.is_some() {
                        "failed"
                    } else {
                        "delivered"
                    })
                    .arg(crate::clock::now_ms())
                    .arg(failed.unwrap_or("")),
            )
            .await?;
        Ok(done == 1)
    }

    /// Records why an attempt failed.
    pub async fn note_webhook_error(
        &self,
        room_id: &str,
        webhook_id: &str,
        error: &str,
    ) -> StoreResult<()> {
        let k = &self.keys;
        let _: i64 = self
            .call(
                ScriptCall::new(&WEBHOOK_ERROR)
                    .key(k.room_webhooks(room_id))
                    .key(k.webhook_stats(room_id, webhook_id))
                    .arg(webhook_id)
                    .arg(error),
            )
            .await?;
        Ok(())
    }
}

/// What a group still has to deliver, from `XINFO GROUPS`: entries read
/// but not acknowledged plus entries not read yet (`lag`; unknown after
/// trimming, then counted as none).
fn group_backlog(groups: redis::Value, name: &str) -> u64 {
    let Ok(groups) = redis::from_redis_value::<Vec<HashMap<String, redis::Value>>>(groups) else {
        return 0;
    };
    groups
        .into_iter()
        .find(|g| {
            g.get("name")
                .and_then(|n| redis::from_redis_value::<String>(n.clone()).ok())
                .as_deref()
                == Some(name)
        })
        .map(|g| {
            let number = |field: &str| {
                g.get(field)
                    .and_then(|v| redis::from_redis_value::<u64>(v.clone()).ok())
                    .unwrap_or(0)
            };
            number("pending") + number("lag")
        })
        .unwrap_or(0)
}

fn change(reply: &str) -> StoreResult<WebhookChange> {
    Ok(match reply {
        "no_room" => WebhookChange::NoRoom,
        "not_member" => WebhookChange::NotMember,
        "too_many" => WebhookChange::TooMany,
        "not_found" => WebhookChange::NotFound,
        "ok" => WebhookChange::Done,
        other => return Err(StoreError::Corrupt(format!("webhook script said {other}"))),
    })
}
