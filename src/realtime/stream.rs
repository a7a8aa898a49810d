//! Opening an SSE stream and feeding it: `ready`, then the backlog (offline
//! queue and, on resume, what history says was missed), then live events.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use utoipa::ToSchema;

use super::Realtime;
use super::hub::ConnId;
use super::outgoing::{self, Outgoing};
use super::position::{self, Fingerprint, Position};
use super::presence::stream_expiry_ms;
use crate::domain::MessageId;
use crate::error::{ApiError, Code};
use crate::event::Event;
use crate::metrics;
use crate::store::streams::StreamOpen;

/// The `ready` event: always first on a stream.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
#[schema(example = json!({"user_id": "6f1c2b1e-8a4d-4d0b-9b3e-2f1a7c9d0e11", "rooms": ["0b7e6a52-3c1d-4f5e-8a9b-1c2d3e4f5a6b"], "offline_count": 0, "resumed": false}))]
pub struct Ready {
    /// The stream's user.
    pub user_id: String,
    /// Ids of the rooms whose events this stream carries.
    pub rooms: Vec<String>,
    /// How many events follow `ready` before live ones, oldest first: what
    /// arrived while the user had no open stream (room and direct messages,
    /// the newest up to the offline cap, and operator notifications, kept
    /// apart so messages never push one out) and, on a resume, every message
    /// the resume replays.
    pub offline_count: usize,
    /// Whether the stream resumed from `Last-Event-ID` (a resume token) with
    /// no gap: every message after it follows before live events. False
    /// without a `Last-Event-ID`, or when the token is unknown, malformed,
    /// from before an upgrade, or older than the retained history (then
    /// backfill through the history endpoints).
    pub resumed: bool,
}

/// Who opens a stream, and from where.
pub struct OpenRequest {
    /// Whose events the stream carries.
    pub user_id: String,
    /// The session the credential belongs to.
    pub session_id: String,
    /// When that session ends (the stream ends with it).
    pub session_ends: Instant,
    /// The `Last-Event-ID` the client sent, if any.
    pub last_event_id: Option<String>,
}

/// Stream limits and timings.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Open streams per user.
    pub max_per_user: u32,
    /// Most messages a resume sends.
    pub resume_max: usize,
    /// Interval of `: ping` comments.
    pub ping: Duration,
    /// Streams this instance holds at most.
    pub max_per_instance: usize,
    /// The `retry:` the stream starts with (how long clients wait before
    /// reconnecting).
    pub retry: Duration,
}

impl Realtime {
    /// Opens a stream: subscribes, records it (or refuses past the cap),
    /// collects the backlog and starts feeding the returned receiver.
    pub async fn open(
        self: &Arc<Self>,
        request: OpenRequest,
        limits: StreamLimits,
    ) -> Result<Feed, ApiError> {
        let store = &self.store;
        if self.open_streams() >= limits.max_per_instance {
            // Full: the client (or the load balancer) should go elsewhere.
            return Err(Code::Unavailable.into());
        }
        let user_id = request.user_id.clone();
        let rooms = store.user_rooms_joined(&user_id).await?;
        // Where a new lineage begins: read before subscribing, so whatever is
        // published once the stream listens has an id at or after it.
        let base_ms = store.time_ms().await?;
        // 1. Subscribe first, so nothing published from now on is missed.
        let token = Arc::new(Mutex::new(String::new()));
        let room_ids: Vec<String> = rooms.iter().map(|(id, _)| id.clone()).collect();
        let (conn, live) = self
            .hub
            .register(
                &user_id,
                &request.session_id,
                room_ids.clone(),
                token.clone(),
            )
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not subscribe a stream");
                ApiError::from(Code::Unavailable)
            })?;
        let stream_id = self.stream_id(conn);
        // 2. Then record it; an offline user's backlog comes back with it.
        let opened = store
            .open_stream(
                &user_id,
                &stream_id,
                stream_expiry_ms(),
                limits.max_per_user,
            )
            .await;
        let opened = match opened {
            Ok(StreamOpen::Full) => {
                self.hub.unregister(conn);
                return Err(ApiError::retry_after(Code::TooManyStreams, 5));
            }
            Ok(opened) => opened,
            Err(e) => {
                self.hub.unregister(conn);
                return Err(e.into());
            }
        };
        // 3. The backlog: on resume what history says was missed, for a
        // user who was offline what arrived meanwhile.
        let backlog = match self
            .backlog(&request, &rooms, base_ms, &opened, limits.resume_max)
            .await
        {
            Ok(backlog) => backlog,
            Err(e) => {
                self.hub.unregister(conn);
                let _ = store.close_stream(&user_id, Some(&stream_id), None).await;
                return Err(e);
            }
        };
        if request.last_event_id.is_some() {
            metrics::inc(if backlog.resumed {
                &metrics::RESUMES_OK
            } else {
                &metrics::RESUMES_FAILED
            });
        }
        // 4. The stream is established: what it takes from the offline
        // queue leaves it. (Failing here repeats the queue next time rather
        // than losing it.)
        if let StreamOpen::Offline { taken, .. } = &opened
            && let Err(e) = store.drained(&user_id, *taken).await
        {
            self.hub.unregister(conn);
            let _ = store.close_stream(&user_id, Some(&stream_id), None).await;
            return Err(e.into());
        }
        metrics::add(&metrics::OFFLINE_DRAINED, backlog.offline_count as u64);
        let ready = Ready {
            user_id: user_id.clone(),
            rooms: room_ids,
            offline_count: backlog.offline_count,
            resumed: backlog.resumed,
        };
        // Counted until its body is gone and its close recorded.
        self.open_streams.fetch_add(1, Ordering::Relaxed);
        let mut first = BytesMut::new();
        first.extend_from_slice(format!("retry: {}\n\n", limits.retry.as_millis()).as_bytes());
        let (_, ready) = outgoing::sse("ready", &ready);
        first.extend_from_slice(&ready);
        let sent = backlog.events.iter().filter_map(|o| o.message).collect();
        let now = Instant::now();
        let next_ping = now + limits.ping;
        Ok(Feed {
            first: Some(first.freeze()),
            backlog: backlog.events.into_iter(),
            sent,
            live: Some(live),
            position: backlog.position,
            token,
            timer: Box::pin(tokio::time::sleep_until(
                next_ping.min(request.session_ends),
            )),
            next_ping,
            session_ends: request.session_ends,
            ping: limits.ping,
            over: false,
            realtime: self.clone(),
            conn,
            user_id,
        })
    }

    /// What a new stream sends before live events, and where it then stands.
    async fn backlog(
        &self,
        request: &OpenRequest,
        rooms: &[(String, u64)],
        base_ms: u64,
        opened: &StreamOpen,
        resume_max: usize,
    ) -> Result<Backlog, ApiError> {
        let store = &self.store;
        let user_id = request.user_id.as_str();
        let mut queued: Vec<Event> = match opened {
            StreamOpen::Offline { queued, .. } => queued
                .iter()
                .filter_map(|wire| {
                    let event = Event::decode(wire);
                    if event.is_none() {
                        tracing::debug!(len = wire.len(), "skipping an unreadable queued event");
                    }
                    event
                })
                .collect(),
            _ => Vec::new(),
        };
        // Rooms start where the position says, but never before the user
        // joined them: their messages, and their changes (a container of
        // their own).
        let starts = |position: &Position, changes: bool| -> Vec<(String, MessageId)> {
            rooms
                .iter()
                .map(|(room, joined_ms)| {
                    let joined = MessageId {
                        ms: joined_ms.saturating_sub(1),
                        seq: u64::MAX,
                    };
                    let container = if changes {
                        position::room_changes(room)
                    } else {
                        position::room(room)
                    };
                    (room.clone(), position.after(container).max(joined))
                })
                .collect()
        };
        // A resume: everything after the client's token, if history still
        // has it all, continuing the token's lineage.
        let decode = |token: &str| Position::decode(token, &self.token_key, user_id);
        if let Some(start) = request.last_event_id.as_deref().and_then(decode) {
            let mut missed = store
                .room_messages_since(&starts(&start, false), resume_max)
                .await?;
            if missed.complete {
                store
                    .room_changes_since(&starts(&start, true), resume_max, &mut missed)
                    .await?;
            }
            let earliest = start.earliest();
            if missed.complete {
                store
                    .direct_messages_since(
                        user_id,
                        earliest,
                        |other| start.after(position::conversation(user_id, other)),
                        resume_max,
                        &mut missed,
                    )
                    .await?;
            }
            if missed.complete {
                store
                    .direct_changes_since(
                        user_id,
                        earliest,
                        |other| start.after(position::conversation_changes(user_id, other)),
                        resume_max,
                        &mut missed,
                    )
                    .await?;
            }
            if missed.complete {
                let mut replayed: Vec<Event> = missed
                    .rooms
                    .into_iter()
                    .map(Event::RoomMessage)
                    .chain(missed.direct.into_iter().map(Event::DirectMessage))
                    .chain(missed.changes)
                    .collect();
                // Messages go out as they are now (a deleted one without
                // its text), their changes after them.
                futures_util::try_join!(
                    store.current_versions(&mut replayed),
                    store.current_versions(&mut queued),
                )?;
                let mut events: Vec<Outgoing> = replayed
                    .into_iter()
                    .filter_map(Outgoing::from_event)
                    .collect();
                let mut replayed_to = start.clone();
                for event in &events {
                    if let Some((container, id)) = event.message {
                        replayed_to.advance(container, id);
                    }
                }
                // Queued direct messages the resume already covers go.
                let offline: Vec<Outgoing> = queued
                    .into_iter()
                    .filter_map(Outgoing::from_event)
                    .filter(|e| e.message.is_none_or(|(c, id)| !replayed_to.covers(c, id)))
                    .collect();
                events.extend(offline);
                sort_by_time(&mut events);
                let offline_count = events.len();
                // The stream stands where the client's token did: each
                // event's token then says exactly what was sent up to it,
                // so a client dropping part-way resumes the rest.
                return Ok(Backlog {
                    events,
                    position: start,
                    offline_count,
                    resumed: true,
                });
            }
        }
        // No (usable) token: a new lineage; an offline user gets what
        // arrived while they were away, newest first up to the cap.
        let mut events = queued;
        if let StreamOpen::Offline {
            position: stored, ..
        } = opened
        {
            let since = stored
                .as_deref()
                .and_then(decode)
                .unwrap_or_else(|| Position::starting_at(0));
            let cap = self.offline_cap;
            let (message_starts, change_starts) = (starts(&since, false), starts(&since, true));
            let (rooms, changes) = futures_util::try_join!(
                store.room_backlog(user_id, &message_starts, cap),
                store.room_changes_backlog(user_id, &change_starts, cap),
            )?;
            events.extend(rooms.into_iter().map(Event::RoomMessage).chain(changes));
        }
        store.current_versions(&mut events).await?;
        let mut events: Vec<Outgoing> = events
            .into_iter()
            .filter_map(Outgoing::from_event)
            .collect();
        sort_by_time(&mut events);
        keep_newest_messages(&mut events, self.offline_cap);
        // The lineage begins before the backlog's first message, so that a
        // client dropping part-way through the backlog resumes the rest (and
        // perhaps repeats some, never skips one).
        let first = events
            .iter()
            .filter_map(|e| e.message.map(|(_, id)| id.ms))
            .min()
            .unwrap_or(base_ms);
        let position = Position::starting_at(first.min(base_ms));
        Ok(Backlog {
            offline_count: events.len(),
            events,
            position,
            resumed: false,
        })
    }
}

/// What a stream sends before live events.
struct Backlog {
    /// In sending order.
    events: Vec<Outgoing>,
    /// Where the stream stands before they are sent (each advances it as
    /// it goes out, so its token covers exactly what was sent up to it).
    position: Position,
    /// How many there are (`ready.offline_count`).
    offline_count: usize,
    /// Whether a `Last-Event-ID` resumed with nothing missing.
    resumed: bool,
}

/// Orders a backlog by when each event happened (message ids and
/// notification times are both milliseconds); the sort is stable, so events
/// of one room or conversation keep their order.
fn sort_by_time(events: &mut [Outgoing]) {
    events.sort_by_key(|e| match e.message {
        Some((_, id)) => id,
        None => MessageId {
            ms: e.at_ms.unwrap_or(0),
            seq: u64::MAX,
        },
    });
}

/// Drops the oldest messages of a sorted backlog beyond `cap`; other events
/// (operator notifications, capped in their own queue) all stay.
fn keep_newest_messages(events: &mut Vec<Outgoing>, cap: usize) {
    let messages = events.iter().filter(|e| e.message.is_some()).count();
    let mut excess = messages.saturating_sub(cap);
    events.retain(|e| {
        if excess > 0 && e.message.is_some() {
            excess -= 1;
            return false;
        }
        true
    });
}

/// A stream's response body: `retry:` and `ready`, the backlog, then live
/// events until the client goes, the session ends, or the hub drops the
/// stream (revoked, too slow, shutdown).
///
/// The connection's own task (actix's dispatcher) polls it, so between the
/// hub and the socket an event costs no task, channel or wake of its own:
/// the hub's `try_send` wakes the connection, which takes everything queued
/// at once into one buffer and writes it with one system call. Each event's
/// `event:` and `data:` lines are the bytes shared by every stream it goes
/// to ([`Outgoing::sse`]); a message's `id:` line, the resume token after
/// it, is the only part made per stream.
///
/// A client that stops reading stops the dispatcher polling the body: the
/// hub's buffer for the stream fills and the hub drops it, and the kernel
/// cuts the connection once what was written stays unread for the write
/// deadline (`crate::connection`). When the body goes (the response ended,
/// or the connection did), the stream's close is recorded and it leaves the
/// hub, in that order ([`Feed::drop`]).
pub struct Feed {
    /// `retry:` and `ready`, until written.
    first: Option<Bytes>,
    /// The backlog not yet written, in order.
    backlog: std::vec::IntoIter<Outgoing>,
    /// The backlog's messages: skipped when they also arrive live.
    sent: HashSet<(Fingerprint, MessageId)>,
    /// Live events from the hub; `None` once the hub dropped the stream.
    live: Option<mpsc::Receiver<Arc<Outgoing>>>,
    /// Where the stream stands: the messages written so far.
    position: Position,
    /// The stream's resume token, shared with the hub for the heartbeat
    /// (which stores it as the user's position in case this instance dies):
    /// refreshed at every ping, not every event, to keep deliveries cheap.
    token: Arc<Mutex<String>>,
    /// Fires at the next ping or at the session's end, whichever is first.
    timer: Pin<Box<Sleep>>,
    /// When the next `: ping` is due.
    next_ping: Instant,
    /// When the session ends (the stream ends with it).
    session_ends: Instant,
    /// Interval of `: ping` comments.
    ping: Duration,
    /// Ended: the next poll ends the body.
    over: bool,
    /// The instance's realtime side (the hub, the store, the token key).
    realtime: Arc<Realtime>,
    /// The stream's number in the hub.
    conn: ConnId,
    /// Whose stream it is (tokens are good for them only).
    user_id: String,
}

/// Most bytes one poll of a stream hands to the connection: more waits
/// for the next (the dispatcher polls again once this is buffered).
const MAX_BATCH: usize = 64 * 1024;

impl Feed {
    /// Shares where the stream stands with the heartbeat.
    fn share_position(&self) {
        let token = self
            .position
            .encode(&self.realtime.token_key, &self.user_id);
        if let Ok(mut shared) = self.token.lock() {
            *shared = token;
        }
    }

    /// Appends one event in SSE form to `out`; a message carries the resume
    /// token after it.
    fn write(&mut self, event: &Outgoing, out: &mut BytesMut) {
        match event.message {
            Some((container, id)) => {
                self.position.advance(container, id);
                out.reserve(event.sse.len() + 80);
                out.extend_from_slice(b"id: ");
                self.position
                    .write_token(&self.realtime.token_key, &self.user_id, out);
                out.extend_from_slice(b"\n");
            }
            None => out.reserve(event.sse.len()),
        }
        out.extend_from_slice(&event.sse);
    }

    /// Runs the timer: true once the session is over; sets `ping` when a
    /// `: ping` is due. Leaves the timer armed for what comes next.
    fn poll_timer(&mut self, cx: &mut Context<'_>, ping: &mut bool) -> bool {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if now >= self.session_ends {
                return true;
            }
            if now >= self.next_ping {
                *ping = true;
                self.next_ping = now + self.ping;
            }
            let next = self.next_ping.min(self.session_ends);
            self.timer.as_mut().reset(next);
        }
        false
    }
}

impl MessageBody for Feed {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        let mut ping = false;
        if this.over || this.poll_timer(cx, &mut ping) {
            this.over = true;
            return Poll::Ready(None);
        }
        let mut out = BytesMut::new();
        let mut delivered = 0;
        // The backlog, before anything live.
        if this.backlog.len() > 0 {
            while out.len() < MAX_BATCH
                && let Some(event) = this.backlog.next()
            {
                this.write(&event, &mut out);
                delivered += 1;
            }
            if this.backlog.len() == 0 {
                this.share_position();
            }
            metrics::add(&metrics::EVENTS_DELIVERED, delivered);
            return Poll::Ready(Some(Ok(out.freeze())));
        }
        // Everything queued, in one buffer.
        while out.len() < MAX_BATCH
            && let Some(live) = &mut this.live
        {
            match live.poll_recv(cx) {
                Poll::Ready(Some(event)) => {
                    if this.sent.is_empty()
                        || !event.message.is_some_and(|m| this.sent.contains(&m))
                    {
                        this.write(&event, &mut out);
                        delivered += 1;
                    }
                }
                Poll::Ready(None) => {
                    this.live = None;
                    this.over = true;
                }
                Poll::Pending => break,
            }
        }
        if ping {
            this.share_position();
            out.extend_from_slice(b": ping\n\n");
        }
        metrics::add(&metrics::EVENTS_DELIVERED, delivered);
        if out.is_empty() {
            return if this.over {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        }
        Poll::Ready(Some(Ok(out.freeze())))
    }
}

impl Drop for Feed {
    /// The stream is over: its close is recorded (the user may go offline,
    /// and deliveries start queueing for them), *then* it leaves the hub
    /// and stops counting; the other order would leave a moment in which
    /// an event is neither delivered nor queued. Its live receiver is kept
    /// until then, so the hub still finds it open.
    fn drop(&mut self) {
        let live = self.live.take();
        if live.as_ref().is_some_and(|l| !l.is_empty()) {
            // Events were waiting: the client stopped reading (its
            // connection was cut) or went without taking them.
            tracing::info!(user_id = %self.user_id, "a stream's connection ended with events waiting for it");
            metrics::inc(&metrics::STREAMS_CUT);
        }
        let realtime = self.realtime.clone();
        let conn = self.conn;
        let user_id = std::mem::take(&mut self.user_id);
        let position = self.position.encode(&realtime.token_key, &user_id);
        let close = async move {
            let stream_id = realtime.stream_id(conn);
            if let Err(e) = realtime
                .store
                .close_stream(&user_id, Some(&stream_id), Some(&position))
                .await
            {
                tracing::debug!(error = %e, "could not record a closed stream; it expires instead");
            }
            drop(live);
            realtime.hub.unregister(conn);
            realtime.stream_closed();
        };
        self.realtime.closer.spawn(close);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{RoomMessageRecord, UserLite};
    use crate::model::Notification;

    fn msg(ms: u64) -> Outgoing {
        Outgoing::from_event(Event::RoomMessage(RoomMessageRecord {
            id: MessageId { ms, seq: 0 },
            room_id: "r".into(),
            sender: UserLite {
                id: "u".into(),
                username: "a".into(),
                display_name: "A".into(),
            },
            body: "x".into(),
            client_id: None,
            edit: Default::default(),
        }))
        .unwrap()
    }

    fn note(ms: u64) -> Outgoing {
        Outgoing::from_event(Event::Notification(Notification {
            kind: "k".into(),
            text: "t".into(),
            created_at: crate::clock::rfc3339_ms(ms),
        }))
        .unwrap()
    }

    /// Each event's type and, for messages, the milliseconds of its id.
    fn order(events: &[Outgoing]) -> Vec<(&'static str, Option<u64>)> {
        events
            .iter()
            .map(|e| (e.event, e.message.map(|(_, id)| id.ms)))
            .collect()
    }

    #[test]
    fn a_capped_backlog_drops_the_oldest_messages_but_no_notification() {
        let mut events = vec![note(0), msg(1), msg(2), note(3), msg(4)];

        keep_newest_messages(&mut events, 2);

        assert_eq!(
            order(&events),
            [
                ("notification", None),
                ("message", Some(2)),
                ("notification", None),
                ("message", Some(4)),
            ]
        );
    }

    #[test]
    fn a_backlog_sorts_by_time_keeping_each_rooms_order() {
        let note = note(2);
        let mut events = vec![msg(3), note, msg(1), msg(2)];
        sort_by_time(&mut events);
        assert_eq!(
            order(&events),
            [
                ("message", Some(1)),
                ("message", Some(2)),
                ("notification", None),
                ("message", Some(3)),
            ]
        );
    }
}
