//! Opening an SSE stream and feeding it: `ready`, then the backlog (offline
//! queue and, on resume, what history says was missed), then live events.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix_web_lab::sse;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use utoipa::ToSchema;

use super::Realtime;
use super::outgoing::Outgoing;
use super::presence::stream_expiry_ms;
use crate::domain::MessageId;
use crate::error::{ApiError, Code};
use crate::event::Event;
use crate::metrics;
use crate::store::streams::StreamOpen;

/// The `ready` event: always first on a stream.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Ready {
    /// The stream's user.
    pub user_id: String,
    /// Ids of the rooms whose events this stream carries.
    pub rooms: Vec<String>,
    /// How many queued events (from while the user had no open stream)
    /// follow before live events.
    pub offline_count: usize,
    /// Whether the stream resumed from `Last-Event-ID` with no gap: every
    /// message after that id follows before live events. False without a
    /// `Last-Event-ID`, or when the id is unknown or older than the retained
    /// history (then backfill through the history endpoints).
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
}

impl Realtime {
    /// Opens a stream: subscribes, records it (or refuses past the cap),
    /// collects the backlog and starts feeding the returned receiver.
    pub async fn open(
        self: &Arc<Self>,
        request: OpenRequest,
        limits: StreamLimits,
    ) -> Result<mpsc::Receiver<Box<sse::Event>>, ApiError> {
        let store = &self.store;
        if self.hub.len() >= limits.max_per_instance {
            // Full: the client (or the load balancer) should go elsewhere.
            return Err(Code::Unavailable.into());
        }
        let rooms = store.user_room_ids(&request.user_id).await?;
        // 1. Subscribe first, so nothing published from now on is missed.
        let (conn, live) = self
            .hub
            .register(&request.user_id, &request.session_id, rooms.clone())
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not subscribe a stream");
                ApiError::from(Code::Unavailable)
            })?;
        let stream_id = self.stream_id(conn);
        // 2. Then mark the user online and take the offline queue.
        let opened = store
            .open_stream(
                &request.user_id,
                &stream_id,
                stream_expiry_ms(),
                limits.max_per_user,
            )
            .await;
        let queued = match opened {
            Ok(StreamOpen::Opened(queued)) => queued,
            Ok(StreamOpen::Full) => {
                self.hub.unregister(conn);
                return Err(ApiError::retry_after(Code::TooManyStreams, 5));
            }
            Err(e) => {
                self.hub.unregister(conn);
                return Err(e.into());
            }
        };
        // 3. On resume, what history says was missed.
        let resume_from = request.last_event_id.as_deref().map(MessageId::parse);
        let (missed, resumed) = match resume_from {
            Some(Some(after)) if after.ms <= crate::clock::now_ms() => {
                match store
                    .missed_since(&request.user_id, after, limits.resume_max)
                    .await
                {
                    Ok(missed) if missed.complete => (missed.events, true),
                    Ok(_) => (Vec::new(), false),
                    Err(e) => {
                        self.hub.unregister(conn);
                        let _ = store.close_stream(&request.user_id, Some(&stream_id)).await;
                        return Err(e.into());
                    }
                }
            }
            _ => (Vec::new(), false),
        };
        if resume_from.is_some() {
            metrics::inc(if resumed {
                &metrics::RESUMES_OK
            } else {
                &metrics::RESUMES_FAILED
            });
        }
        metrics::add(&metrics::OFFLINE_DRAINED, queued.len() as u64);
        let backlog = merge_backlog(&queued, missed);
        let ready = Ready {
            user_id: request.user_id.clone(),
            rooms,
            offline_count: queued.len(),
            resumed,
        };
        // Boxed events: a channel allocates its slots up front, and an
        // `sse::Event` is about a hundred bytes; a pointer keeps an idle
        // stream's channel small.
        let (tx, rx) = mpsc::channel(16);
        let realtime = self.clone();
        actix_web::rt::spawn(async move {
            feed(tx, ready, backlog, live, request.session_ends, limits.ping).await;
            // Record the close (the user may go offline, and sends start
            // queueing for them) *before* unsubscribing: the other order would
            // leave a moment in which a message is neither delivered nor
            // queued.
            if let Err(e) = realtime
                .store
                .close_stream(&request.user_id, Some(&stream_id))
                .await
            {
                tracing::debug!(error = %e, "could not record a closed stream; it expires instead");
            }
            realtime.hub.unregister(conn);
        });
        Ok(rx)
    }
}

/// The backlog in sending order: on resume, the missed messages in id
/// order followed by queued events they do not already cover (notifications,
/// say); otherwise the offline queue as it was.
fn merge_backlog(queued: &[String], missed: Vec<Event>) -> Vec<Outgoing> {
    let mut seen: HashSet<MessageId> = missed.iter().filter_map(Event::message_id).collect();
    let mut out: Vec<Outgoing> = missed
        .into_iter()
        .filter_map(Outgoing::from_event)
        .collect();
    for wire in queued {
        let Some(event) = Event::decode(wire).and_then(Outgoing::from_event) else {
            tracing::debug!(len = wire.len(), "skipping an unreadable queued event");
            continue;
        };
        match event.message_id {
            Some(id) if !seen.insert(id) => {}
            _ => out.push(event),
        }
    }
    out
}

fn to_sse(event: &Outgoing) -> Box<sse::Event> {
    let data = sse::Data::new(event.data.clone()).event(event.event);
    Box::new(match &event.id {
        Some(id) => data.id(id.clone()).into(),
        None => data.into(),
    })
}

/// Writes `ready`, the backlog, then live events until the client goes, the
/// session ends, or the hub drops the stream (revoked, too slow, shutdown).
async fn feed(
    tx: mpsc::Sender<Box<sse::Event>>,
    ready: Ready,
    backlog: Vec<Outgoing>,
    mut live: mpsc::Receiver<Arc<Outgoing>>,
    session_ends: Instant,
    ping: Duration,
) {
    let Ok(ready) = sse::Data::new_json(&ready) else {
        return;
    };
    if tx
        .send(Box::new(ready.event("ready").into()))
        .await
        .is_err()
    {
        return;
    }
    // Live events already sent as backlog are skipped by id.
    let sent: HashSet<MessageId> = backlog.iter().filter_map(|o| o.message_id).collect();
    for event in &backlog {
        if tx.send(to_sse(event)).await.is_err() {
            return;
        }
        metrics::inc(&metrics::EVENTS_DELIVERED);
    }
    let mut pings = tokio::time::interval_at(Instant::now() + ping, ping);
    loop {
        tokio::select! {
            biased;
            _ = tx.closed() => return,
            _ = tokio::time::sleep_until(session_ends) => return,
            event = live.recv() => {
                let Some(event) = event else { return };
                if !sent.is_empty() && event.message_id.is_some_and(|id| sent.contains(&id)) {
                    continue;
                }
                if tx.send(to_sse(&event)).await.is_err() {
                    return;
                }
                metrics::inc(&metrics::EVENTS_DELIVERED);
            }
            _ = pings.tick() => {
                if tx.send(Box::new(sse::Event::Comment("ping".into()))).await.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{RoomMessageRecord, UserLite};
    use crate::model::Notification;

    fn msg(ms: u64) -> Event {
        Event::RoomMessage(RoomMessageRecord {
            id: MessageId { ms, seq: 0 },
            room_id: "r".into(),
            sender: UserLite {
                id: "u".into(),
                username: "a".into(),
                display_name: "A".into(),
            },
            body: "x".into(),
            client_id: None,
        })
    }

    #[test]
    fn a_resume_backlog_is_in_id_order_without_duplicates() {
        let note = Event::Notification(Notification {
            kind: "k".into(),
            text: "t".into(),
            created_at: "2024-11-23T10:25:00.123Z".into(),
        });
        let queued = vec![msg(2).encode(), note.encode(), msg(3).encode()];
        let out = merge_backlog(&queued, vec![msg(1), msg(2)]);
        let names: Vec<_> = out.iter().map(|o| (o.event, o.id.clone())).collect();
        assert_eq!(
            names,
            [
                ("message", Some("1-0".into())),
                ("message", Some("2-0".into())),
                ("notification", None),
                ("message", Some("3-0".into())),
            ]
        );
    }
}
