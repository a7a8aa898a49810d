//! Reading what a stream missed, from where it stood: room messages from
//! the rooms' Streams and direct messages from the conversations' Lists.
//! Only rooms and conversations with activity since are read (the
//! directory's activity order and each user's conversation order say which),
//! so the work is proportional to what is sent plus the number of active
//! rooms, never to the rooms joined times the cap.

use std::collections::HashMap;

use redis::AsyncCommands;

use super::messages::{Entries, HistoryQuery, entry_to_message, stream_id};
use super::rooms::RECENCY_PER_MS;
use super::{Store, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;
use crate::message::{DirectMessageRecord, RoomMessageRecord};

/// Messages read back for a stream.
#[derive(Debug, Default)]
pub struct Missed {
    /// Room messages, each room's in id order.
    pub rooms: Vec<RoomMessageRecord>,
    /// Direct messages, each conversation's in id order.
    pub direct: Vec<DirectMessageRecord>,
    /// Edits and deletes (their events), each room's and conversation's in
    /// id order.
    pub changes: Vec<Event>,
    /// Whether that is everything after the starts: false when some of it
    /// has been trimmed from history, or there was more than asked for.
    pub complete: bool,
}

/// Where reading starts in one room or conversation: after this id.
pub type Start = MessageId;

/// A change's event from its entry in a room's changes stream (`e`: the
/// event's JSON; the entry id is the change's id).
fn change_event(id: &str, fields: &HashMap<String, String>) -> Option<Event> {
    Event::decode(&format!("{id} {}", fields.get("e")?))
}

/// How many of `limit` are left once `missed` holds what it holds.
fn budget(missed: &Missed, limit: usize) -> usize {
    limit.saturating_sub(missed.rooms.len() + missed.direct.len() + missed.changes.len())
}

impl Store {
    /// The rooms `user_id` belongs to, with when they joined (ms).
    pub async fn user_rooms_joined(&self, user_id: &str) -> StoreResult<Vec<(String, u64)>> {
        let mut conn = self.conn().await?;
        let rooms: Vec<(String, f64)> = self
            .run(conn.zrange_withscores(self.keys.user_rooms(user_id), 0, -1))
            .await?;
        Ok(rooms
            .into_iter()
            .map(|(room, recency)| (room, (recency as i64 / RECENCY_PER_MS).max(0) as u64))
            .collect())
    }

    /// Which of `rooms` have had a message after their start: the
    /// directory's activity order keeps each room's latest message time (or
    /// a score below zero for rooms without one).
    async fn active_rooms<'a>(
        &self,
        rooms: &'a [(String, Start)],
    ) -> StoreResult<Vec<&'a (String, Start)>> {
        // Not in the directory (a leftover of a failed create): read it
        // rather than risk missing something.
        self.rooms_touched_since(&self.keys.rooms_by_activity(), rooms, true)
            .await
    }

    /// Which of `rooms` are in `index` (a recency index of rooms: by
    /// activity or by change) with a time at or after their start;
    /// `missing` says whether a room not in the index counts.
    async fn rooms_touched_since<'a>(
        &self,
        index: &str,
        rooms: &'a [(String, Start)],
        missing: bool,
    ) -> StoreResult<Vec<&'a (String, Start)>> {
        if rooms.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rooms.iter().map(|(id, _)| id.as_str()).collect();
        let mut conn = self.conn().await?;
        let scores: Vec<Option<f64>> = self
            .run(
                redis::cmd("ZMSCORE")
                    .arg(index)
                    .arg(&ids)
                    .query_async(&mut conn),
            )
            .await?;
        Ok(rooms
            .iter()
            .zip(scores)
            .filter(|((_, start), _)| *start < MessageId::MAX)
            .filter(|((_, start), score)| match score {
                // Recencies are at least the ms times 1000.
                Some(score) => *score >= 0.0 && (*score as i64 / RECENCY_PER_MS) as u64 >= start.ms,
                None => missing,
            })
            .map(|(room, _)| room)
            .collect())
    }

    /// Edits and deletes in `rooms` after each room's start (in their
    /// changes streams), added to `missed`, at most what is left of
    /// `limit`; `missed.complete` turns false when some are gone or there
    /// were more.
    pub async fn room_changes_since(
        &self,
        rooms: &[(String, Start)],
        limit: usize,
        missed: &mut Missed,
    ) -> StoreResult<()> {
        let active = self
            .rooms_touched_since(&self.keys.rooms_by_change(), rooms, false)
            .await?;
        if active.is_empty() {
            return Ok(());
        }
        let k = &self.keys;
        let budget = budget(missed, limit);
        let pipes = active
            .iter()
            .map(|(room, start)| {
                let stream = k.room_changes(room);
                let mut pipe = redis::pipe();
                pipe.cmd("XRANGE")
                    .arg(&stream)
                    .arg(format!("({start}"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(budget + 1);
                pipe.cmd("XRANGE")
                    .arg(&stream)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1);
                pipe.cmd("XLEN").arg(&stream);
                pipe.cmd("HGET").arg(k.room(room)).arg("change_count");
                pipe
            })
            .collect();
        let replies = self.pipelines(pipes).await?;
        for ((_, start), reply) in active.into_iter().zip(replies) {
            let mut reply = reply.into_iter();
            let (Some(after), Some(first), Some(len), Some(count)) =
                (reply.next(), reply.next(), reply.next(), reply.next())
            else {
                return Err(super::StoreError::Corrupt("a short pipeline reply".into()));
            };
            let after: Entries = decode(after)?;
            let first: Entries = decode(first)?;
            let len: u64 = decode(len)?;
            let count: Option<u64> = decode(count)?;
            let trimmed = count.unwrap_or(0) > len;
            if trimmed
                && first
                    .first()
                    .and_then(|(id, _)| MessageId::parse(id))
                    .is_some_and(|first| first > *start)
            {
                missed.complete = false;
            }
            missed.changes.extend(
                after
                    .iter()
                    .filter_map(|(id, fields)| change_event(id, fields)),
            );
        }
        if missed.changes.len() > budget {
            missed.changes.truncate(budget);
            missed.complete = false;
        }
        Ok(())
    }

    /// The newest edits and deletes in `rooms` after each room's start, at
    /// most `limit`, leaving out those of `user_id`'s own messages: the
    /// changes part of an offline backlog. Oldest first per room.
    pub async fn room_changes_backlog(
        &self,
        user_id: &str,
        rooms: &[(String, Start)],
        limit: usize,
    ) -> StoreResult<Vec<Event>> {
        let active = self
            .rooms_touched_since(&self.keys.rooms_by_change(), rooms, false)
            .await?;
        if active.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let reads = active
            .iter()
            .map(|(room, start)| {
                let mut cmd = redis::cmd("XREVRANGE");
                cmd.arg(self.keys.room_changes(room))
                    .arg("+")
                    .arg(format!("({start}"))
                    .arg("COUNT")
                    .arg(limit);
                cmd
            })
            .collect();
        let mut events = Vec::new();
        for reply in self.each(reads).await? {
            let entries: Entries = decode(reply)?;
            for (id, fields) in entries.iter().rev() {
                let Some(event) = change_event(id, fields) else {
                    continue;
                };
                let own = match &event {
                    Event::RoomMessageEdited(c) | Event::RoomMessageDeleted(c) => {
                        c.message.sender.id == user_id
                    }
                    _ => true,
                };
                if !own {
                    events.push(event);
                }
            }
        }
        Ok(events)
    }

    /// Room messages after each room's start, oldest first per room, at
    /// most `limit` in all; `complete` says whether that was everything.
    ///
    /// Reading is bounded by the limit, not by the rooms: each active room
    /// is first read for its share of the limit; rooms that had more are
    /// then read one at a time for what remains of it. At most about
    /// `limit` plus the number of rooms entries are ever read.
    pub async fn room_messages_since(
        &self,
        rooms: &[(String, Start)],
        limit: usize,
    ) -> StoreResult<Missed> {
        let mut missed = Missed {
            complete: true,
            ..Missed::default()
        };
        let active = self.active_rooms(rooms).await?;
        if active.is_empty() {
            return Ok(missed);
        }
        let k = &self.keys;
        let share = limit / active.len() + 1;
        // The entries after each start, up to the share, plus each stream's
        // first entry and the room's message count, to tell whether history
        // was trimmed past the start.
        // One pipeline per room (its keys share its slot).
        let pipes = active
            .iter()
            .map(|(room, start)| {
                let stream = k.room_messages(room);
                let mut pipe = redis::pipe();
                pipe.cmd("XRANGE")
                    .arg(&stream)
                    .arg(format!("({start}"))
                    .arg("+")
                    .arg("COUNT")
                    .arg(share);
                pipe.cmd("XRANGE")
                    .arg(&stream)
                    .arg("-")
                    .arg("+")
                    .arg("COUNT")
                    .arg(1);
                pipe.cmd("XLEN").arg(&stream);
                pipe.cmd("HGET").arg(k.room(room)).arg("message_count");
                pipe
            })
            .collect();
        let mut conn = self.conn().await?;
        let mut replies = self.pipelines(pipes).await?.into_iter().flatten();
        // Rooms that filled their share, and the last id read from each.
        let mut more = Vec::new();
        for (room, start) in active {
            let (Some(after), Some(first), Some(len), Some(count)) = (
                replies.next(),
                replies.next(),
                replies.next(),
                replies.next(),
            ) else {
                break;
            };
            let after: Entries = decode(after)?;
            let first: Entries = decode(first)?;
            let len: u64 = decode(len)?;
            let count: Option<u64> = decode(count)?;
            // Older entries were trimmed and the oldest one kept is newer
            // than the start: some of what was missed is gone.
            let trimmed = count.unwrap_or(0) > len;
            if trimmed
                && first
                    .first()
                    .and_then(|(id, _)| MessageId::parse(id))
                    .is_some_and(|first| first > *start)
            {
                missed.complete = false;
            }
            let full = after.len() == share;
            for (id, fields) in after {
                missed
                    .rooms
                    .push(entry_to_message(room, stream_id(&id)?, &fields)?);
            }
            if let Some(last) = missed.rooms.last().filter(|_| full) {
                more.push((room, last.id));
            }
        }
        for (room, last) in more {
            if !missed.complete || missed.rooms.len() > limit {
                break;
            }
            let remaining = limit - missed.rooms.len();
            let entries: Entries = self
                .run(
                    redis::cmd("XRANGE")
                        .arg(k.room_messages(room))
                        .arg(format!("({last}"))
                        .arg("+")
                        .arg("COUNT")
                        .arg(remaining + 1)
                        .query_async(&mut conn),
                )
                .await?;
            for (id, fields) in entries {
                missed
                    .rooms
                    .push(entry_to_message(room, stream_id(&id)?, &fields)?);
            }
        }
        if missed.rooms.len() > limit {
            missed.rooms.truncate(limit);
            missed.complete = false;
        }
        Ok(missed)
    }

    /// The newest room messages after each room's start, at most `limit` in
    /// all, leaving out `user_id`'s own: the room part of an offline
    /// backlog. Oldest first.
    ///
    /// Bounded like [`Store::room_messages_since`]: each active room's
    /// newest share first, then, one room at a time, only as many older ones
    /// as could still be among the newest `limit`.
    pub async fn room_backlog(
        &self,
        user_id: &str,
        rooms: &[(String, Start)],
        limit: usize,
    ) -> StoreResult<Vec<RoomMessageRecord>> {
        let active = self.active_rooms(rooms).await?;
        if active.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let share = limit / active.len() + 1;
        let read = |room: &str, before: Option<MessageId>, start: MessageId, count: usize| {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(self.keys.room_messages(room));
            match before {
                Some(id) => cmd.arg(format!("({id}")),
                None => cmd.arg("+"),
            };
            cmd.arg(format!("({start}")).arg("COUNT").arg(count);
            cmd
        };
        let reads = active
            .iter()
            .map(|(room, start)| read(room, None, *start, share))
            .collect();
        let replies = self
            .each(reads)
            .await?
            .into_iter()
            .map(decode::<Entries>)
            .collect::<StoreResult<Vec<_>>>()?;
        let mut conn = self.conn().await?;
        let mut messages = Vec::new();
        // Rooms that filled their share: the oldest id read, where to go on.
        let mut more = Vec::new();
        for ((room, start), entries) in active.into_iter().zip(replies) {
            let full = entries.len() == share;
            let mut oldest = None;
            for (id, fields) in entries {
                let message = entry_to_message(room, stream_id(&id)?, &fields)?;
                oldest = Some(message.id);
                if message.sender.id != user_id {
                    messages.push(message);
                }
            }
            if let Some(oldest) = oldest.filter(|_| full) {
                more.push((room, *start, oldest));
            }
        }
        for (room, start, oldest) in more {
            // Only what is newer than the `limit`-th newest so far can still
            // make the cut.
            let newer = messages.iter().filter(|m| m.id > oldest).count();
            if newer >= limit {
                continue;
            }
            let entries: Entries = self
                .run(read(room, Some(oldest), start, limit - newer).query_async(&mut conn))
                .await?;
            for (id, fields) in entries {
                let message = entry_to_message(room, stream_id(&id)?, &fields)?;
                if message.sender.id != user_id {
                    messages.push(message);
                }
            }
        }
        messages.sort_by_key(|m| m.id);
        let excess = messages.len().saturating_sub(limit);
        messages.drain(..excess);
        Ok(messages)
    }

    /// The other users of a user's conversation index (`index`: by last
    /// message or by last change) touched after `earliest`, latest first.
    async fn others_since(&self, index: &str, earliest: MessageId) -> StoreResult<Vec<String>> {
        let mut conn = self.conn().await?;
        let floor = earliest.ms.saturating_mul(RECENCY_PER_MS as u64);
        self.run(
            redis::cmd("ZRANGE")
                .arg(index)
                .arg("+inf")
                .arg(format!("({floor}"))
                .arg("BYSCORE")
                .arg("REV")
                .query_async(&mut conn),
        )
        .await
    }

    /// Edits and deletes in `user_id`'s conversations after each one's start
    /// (given by `start_of`, keyed by the other user's id), in conversations
    /// changed after `earliest`, added to `missed` up to `limit` in all.
    pub async fn direct_changes_since(
        &self,
        user_id: &str,
        earliest: MessageId,
        start_of: impl Fn(&str) -> Start,
        limit: usize,
        missed: &mut Missed,
    ) -> StoreResult<()> {
        let others = self
            .others_since(&self.keys.user_conversation_changes(user_id), earliest)
            .await?;
        for other in others {
            let budget = budget(missed, limit);
            let (elements, more) = self
                .list_page(
                    &self.keys.direct_changes(user_id, &other),
                    None,
                    "after",
                    start_of(&other),
                    budget.max(1),
                )
                .await?;
            if more || elements.len() > budget {
                missed.complete = false;
            }
            missed.changes.extend(
                elements
                    .iter()
                    .take(budget)
                    .filter_map(|(element, _)| Event::decode(element)),
            );
            if !missed.complete {
                break;
            }
        }
        Ok(())
    }

    /// Direct messages of `user_id` after each conversation's start (given
    /// by `start_of`, keyed by the other user's id), in conversations active
    /// after `earliest`, at most `limit` in all.
    pub async fn direct_messages_since(
        &self,
        user_id: &str,
        earliest: MessageId,
        start_of: impl Fn(&str) -> Start,
        limit: usize,
        missed: &mut Missed,
    ) -> StoreResult<()> {
        let others = self
            .others_since(&self.keys.user_conversations(user_id), earliest)
            .await?;
        for other in others {
            let budget = budget(missed, limit);
            let (messages, more) = self
                .direct_history(
                    user_id,
                    &other,
                    HistoryQuery::After(start_of(&other)),
                    budget.max(1),
                )
                .await?;
            if more || messages.len() > budget {
                missed.complete = false;
            }
            missed.direct.extend(messages.into_iter().take(budget));
            if !missed.complete {
                break;
            }
        }
        Ok(())
    }
}
