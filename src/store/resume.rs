//! Resume reads: what a stream that stopped at a message id missed, read
//! back from room Streams and conversation Lists.

use std::collections::HashMap;

use super::messages::{HistoryQuery, entry_to_message, stream_id};
use super::{Store, StoreResult, decode};
use crate::domain::MessageId;
use crate::event::Event;

/// Messages a resuming stream missed.
#[derive(Debug, Default)]
pub struct Missed {
    /// Room and direct messages after the resume point, in id order.
    pub events: Vec<Event>,
    /// Whether that is everything: false when some history after the resume
    /// point has been trimmed away (or there was more than could be sent).
    pub complete: bool,
}

impl Store {
    /// The room and direct messages addressed to `user_id` after `after`, at
    /// most `limit`, in id order: what a stream that stopped at `after`
    /// missed.
    pub async fn missed_since(
        &self,
        user_id: &str,
        after: MessageId,
        limit: usize,
    ) -> StoreResult<Missed> {
        let k = &self.keys;
        let mut missed = Missed {
            events: Vec::new(),
            complete: true,
        };
        if after == MessageId::MAX {
            return Ok(missed);
        }
        let rooms = self.user_room_ids(user_id).await?;
        let mut conn = self.conn();
        // Rooms: the entries after the id, plus each stream's first entry and
        // the room's message count, to tell whether history was trimmed.
        let mut pipe = redis::pipe();
        for room in &rooms {
            let stream = k.room_messages(room);
            pipe.cmd("XRANGE")
                .arg(&stream)
                .arg(format!("({after}"))
                .arg("+")
                .arg("COUNT")
                .arg(limit + 1);
            pipe.cmd("XRANGE")
                .arg(&stream)
                .arg("-")
                .arg("+")
                .arg("COUNT")
                .arg(1);
            pipe.cmd("XLEN").arg(&stream);
            pipe.cmd("HGET").arg(k.room(room)).arg("message_count");
        }
        type Entries = Vec<(String, HashMap<String, String>)>;
        let replies: Vec<redis::Value> = if rooms.is_empty() {
            Vec::new()
        } else {
            self.run(pipe.query_async(&mut conn)).await?
        };
        let mut replies = replies.into_iter();
        for room in &rooms {
            let (Some(after_entries), Some(first), Some(len), Some(count)) = (
                replies.next(),
                replies.next(),
                replies.next(),
                replies.next(),
            ) else {
                break;
            };
            let entries: Entries = decode(after_entries)?;
            let first: Entries = decode(first)?;
            let len: u64 = decode(len)?;
            let count: Option<u64> = decode(count)?;
            // Older entries were trimmed and the oldest one kept is newer
            // than the resume point: some of what was missed is gone.
            let trimmed = count.unwrap_or(0) > len;
            if trimmed
                && first
                    .first()
                    .and_then(|(id, _)| MessageId::parse(id))
                    .is_some_and(|first| first > after)
            {
                missed.complete = false;
            }
            for (id, fields) in entries {
                let message = entry_to_message(room, stream_id(&id)?, &fields)?;
                missed.events.push(Event::RoomMessage(message));
            }
        }
        // Conversations whose last message is after the resume point.
        let conversations: Vec<String> = self
            .run(
                redis::cmd("ZRANGE")
                    .arg(k.user_conversations(user_id))
                    .arg("+inf")
                    .arg(format!("({}", after.ms.saturating_mul(1000)))
                    .arg("BYSCORE")
                    .arg("REV")
                    .query_async(&mut conn),
            )
            .await?;
        for other in conversations {
            let (messages, more) = self
                .direct_history(user_id, &other, HistoryQuery::After(after), limit)
                .await?;
            if more {
                missed.complete = false;
            }
            missed
                .events
                .extend(messages.into_iter().map(Event::DirectMessage));
        }
        missed.events.sort_by_key(Event::message_id);
        if missed.events.len() > limit {
            missed.events.truncate(limit);
            missed.complete = false;
        }
        Ok(missed)
    }
}
