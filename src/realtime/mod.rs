//! Realtime delivery: the SSE stream, Pub/Sub fan-out across instances,
//! offline queues, resume and presence.
//!
//! # How an event reaches a stream
//! A room send stores the message in the room's Stream and, in the same
//! script, publishes it on the room's channel; nothing is copied per member.
//! A direct message or notification is published on the user's channel when
//! they hold a live stream, or queued in their offline List when they hold
//! none (one script in their slot). Each instance has one Pub/Sub
//! connection ([`listener`]) subscribed to the channels its local streams
//! need; the [`hub`] hands each event to those streams.
//!
//! # Opening a stream without gaps
//! A stream (1) subscribes to its user's and rooms' channels and waits for
//! Redis to confirm, then (2) records itself ([`crate::store::streams`]);
//! a user who had no live stream gets back their offline List and stored
//! position. A delivery to the user runs either before (2), and is then
//! queued, or after it, and is then published to the subscribed stream. The
//! room messages they missed are read from the rooms' Streams after the
//! stored position; with a `Last-Event-ID` (a resume token, [`position`]),
//! everything after it is read from history instead. An event that arrives
//! both ways is sent once (by room or conversation and id), and the queue
//! is trimmed only once the stream is established.
//!
//! # Layout
//! - [`outgoing`]: events in the form they leave on a stream (the internal
//!   form is [`crate::event`]).
//! - [`hub`]: local streams by user and room; fan-out; slow-client policy.
//! - [`listener`]: the Pub/Sub connection and subscription changes;
//!   [`cluster_listener`]: the same with sharded Pub/Sub on a Redis Cluster.
//! - [`presence`]: heartbeats and the sweeper for crashed instances.
//! - [`stream`]: opening a stream and feeding it.

pub mod cluster_listener;
pub mod hub;
pub mod listener;
pub mod outgoing;
pub mod position;
pub mod presence;
pub mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, mpsc};

use crate::config::Settings;
use crate::domain::new_id;
use crate::event::Event;
use crate::model::{MemberEvent, PublicUser};
use crate::store::{Store, StoreResult};
use hub::{ConnId, Hub};

/// The realtime side of one instance.
pub struct Realtime {
    /// Local streams and fan-out.
    pub hub: Arc<Hub>,
    /// Opening and closing streams, publishing control events.
    pub store: Store,
    /// Names this instance's streams in Redis (`<instance>:<conn>`).
    instance_id: String,
    /// Most events an offline backlog sends (the newest).
    offline_cap: usize,
    /// Signs and checks resume tokens (shared by every stream).
    token_key: Arc<position::TokenKey>,
    /// Streams whose response body lives: from a successful open until the
    /// response ends or its connection is closed or cut, and the close is
    /// recorded. (The hub forgets a stream it drops at once; this still
    /// counts it until then.)
    open_streams: AtomicUsize,
    /// Told when `open_streams` drops to zero (shutdown waits for it).
    all_closed: Notify,
    /// The runtime streams' closes are recorded on: the one the instance
    /// started on, which outlives the server's workers, so that a stream
    /// ended by a graceful shutdown still records its close (and its user
    /// goes offline at once rather than when the presence sweeper notices).
    closer: tokio::runtime::Handle,
}

impl Realtime {
    /// Starts the Pub/Sub listener and presence upkeep on the current
    /// runtime.
    pub fn start(settings: &Settings, store: Store) -> anyhow::Result<Arc<Self>> {
        let (subs_tx, subs_rx) = mpsc::unbounded_channel();
        let hub = Arc::new(Hub::new(
            store.keys().clone(),
            settings.sse.stream_buffer,
            subs_tx,
        ));
        if settings.redis.cluster_nodes.is_empty() {
            listener::spawn(&settings.redis, hub.clone(), subs_rx)?;
        } else {
            cluster_listener::spawn(&settings.redis, hub.clone(), subs_rx)?;
        }
        let realtime = Arc::new(Self {
            hub,
            store,
            instance_id: new_id(),
            offline_cap: usize::try_from(settings.limits.offline_queue_max_len)
                .unwrap_or(usize::MAX),
            token_key: Arc::new(position::TokenKey::derive(settings.auth.secret_bytes())),
            open_streams: AtomicUsize::new(0),
            all_closed: Notify::new(),
            closer: tokio::runtime::Handle::current(),
        });
        actix_web::rt::spawn(presence::run(realtime.clone()));
        Ok(realtime)
    }

    /// Streams open on this instance, counting those the hub dropped whose
    /// connection is not closed yet.
    pub fn open_streams(&self) -> usize {
        self.open_streams.load(Ordering::Relaxed)
    }

    /// A stream's close is recorded: it stops counting.
    fn stream_closed(&self) {
        if self.open_streams.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.all_closed.notify_waiters();
        }
    }

    /// Waits until every stream's close is recorded, or for `timeout`
    /// (shutdown: the process should not end with closes unrecorded).
    pub async fn all_closed(&self, timeout: std::time::Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.all_closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open_streams() == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                tracing::warn!(
                    streams = self.open_streams(),
                    "shutting down before every stream's close was recorded (they expire instead)"
                );
                return;
            }
        }
    }

    /// The id a local stream has in Redis.
    pub fn stream_id(&self, conn: ConnId) -> String {
        format!("{}:{conn}", self.instance_id)
    }

    /// `user_id` joined `room_id`: their streams here receive the room from
    /// now on (subscribed before this returns), streams elsewhere within
    /// moments; a new member is announced to the room.
    pub async fn member_joined(
        &self,
        user_id: &str,
        room_id: &str,
        announce: Option<PublicUser>,
    ) -> StoreResult<()> {
        if let Err(e) = self.hub.add_room(user_id, room_id).await {
            tracing::warn!(error = %e, "could not subscribe streams to a joined room");
        }
        let room = room_id.to_owned();
        let event = announce.map(|user| Event::MemberJoined(MemberEvent::new(room_id, user)));
        self.membership_changed(user_id, room_id, Event::Joined { room }, event)
            .await
    }

    /// `user_id` left `room_id`: their streams stop receiving it; a member
    /// who left is announced to the room.
    pub async fn member_left(
        &self,
        user_id: &str,
        room_id: &str,
        announce: Option<PublicUser>,
    ) -> StoreResult<()> {
        self.hub.remove_room(user_id, room_id);
        let room = room_id.to_owned();
        let event = announce.map(|user| Event::MemberLeft(MemberEvent::new(room_id, user)));
        self.membership_changed(user_id, room_id, Event::Left { room }, event)
            .await
    }

    /// Tells the user's streams on other instances (`control`, on the user's
    /// channel) and the room (`event`, if any) about a membership change, in
    /// that order, in one round trip.
    async fn membership_changed(
        &self,
        user_id: &str,
        room_id: &str,
        control: Event,
        event: Option<Event>,
    ) -> StoreResult<()> {
        let keys = self.store.keys();
        let mut events = vec![(keys.user_channel(user_id), &control)];
        if let Some(event) = &event {
            events.push((keys.room_channel(room_id), event));
        }
        self.store.publish(&events).await
    }

    /// A session was revoked: its streams end, here at once and elsewhere
    /// within moments.
    pub async fn session_revoked(&self, user_id: &str, session_id: &str) -> StoreResult<()> {
        self.hub.revoke(user_id, session_id);
        let control = Event::Revoked {
            sid: session_id.to_owned(),
        };
        let channel = self.store.keys().user_channel(user_id);
        self.store.publish(&[(channel, &control)]).await
    }

    /// Ends every local stream (graceful shutdown): clients reconnect,
    /// elsewhere or later, and resume.
    pub fn shutdown(&self) {
        self.hub.close_all();
    }
}
