//! The per-instance fan-out hub: which local streams want which room and
//! user channels, and delivery of each Pub/Sub message to them.
//!
//! One Pub/Sub connection per instance carries every channel any local
//! stream needs; the hub reference-counts channels so a room channel is
//! subscribed while at least one local stream's user belongs to the room.
//! Each event is turned into its SSE form once and shared (`Arc`) by all the
//! streams it goes to, so a message to a room of thousands costs one parse.
//!
//! A stream's buffer is bounded: when a stream cannot keep up and its buffer
//! is full, the hub drops the stream (closing it) rather than growing memory
//! or holding up others; its client reconnects with `Last-Event-ID` and
//! resumes from history.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, oneshot};

use super::outgoing::Outgoing;
use crate::event::Event;
use crate::store::keys::{Channel, Keys};

/// A local stream's number.
pub type ConnId = u64;

/// A change to the Pub/Sub subscriptions, applied in order by the listener.
#[derive(Debug)]
pub enum SubCmd {
    /// Subscribe to these channels (idempotent in Redis); `done` answers once
    /// Redis confirmed, so nothing published afterwards is missed.
    Subscribe {
        /// Channel names.
        channels: Vec<String>,
        /// Told the outcome, if anyone waits.
        done: Option<oneshot::Sender<Result<(), String>>>,
    },
    /// Drop one reference to each channel; unsubscribe those with none left.
    Unsubscribe {
        /// Channel names.
        channels: Vec<String>,
    },
}

/// One local stream.
struct Conn {
    /// Whose stream it is (their channel feeds it).
    user_id: String,
    /// The session it was opened with (revoking it ends the stream).
    session_id: String,
    /// Rooms whose events it receives.
    rooms: HashSet<String>,
    /// Its buffer of events not yet written.
    tx: mpsc::Sender<Arc<Outgoing>>,
    /// Its latest resume token, written by its feeding task, read by the
    /// heartbeat.
    token: Arc<Mutex<String>>,
}

/// The hub's maps. A std `Mutex`, not a tokio one: no `.await` happens while
/// it is held, and every critical section is a few map operations.
#[derive(Default)]
struct State {
    /// Every local stream.
    conns: HashMap<ConnId, Conn>,
    /// Streams by user id.
    by_user: HashMap<String, HashSet<ConnId>>,
    /// Streams by room id.
    by_room: HashMap<String, HashSet<ConnId>>,
}

impl State {
    /// The user's local streams.
    fn conns_of(&self, user_id: &str) -> Vec<ConnId> {
        self.by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }
}

/// The hub. Shared by the SSE handlers, the route handlers that change
/// memberships, and the Pub/Sub listener.
pub struct Hub {
    /// Streams and their indexes by user and room.
    state: Mutex<State>,
    /// Subscription changes, to the listener.
    subs: mpsc::UnboundedSender<SubCmd>,
    /// Names the Pub/Sub channels of users and rooms.
    keys: Keys,
    /// Events a stream may have waiting before it counts as too slow.
    buffer: usize,
    /// Next stream number.
    next_id: AtomicU64,
}

impl Hub {
    /// A hub whose subscription changes go to `subs`.
    pub fn new(keys: Keys, buffer: usize, subs: mpsc::UnboundedSender<SubCmd>) -> Self {
        Self {
            state: Mutex::new(State::default()),
            subs,
            keys,
            buffer,
            next_id: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still
        // consistent (each section completes its updates before anything
        // can panic), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks the listener to subscribe and waits for Redis to confirm.
    async fn subscribe(&self, channels: Vec<String>) -> Result<(), String> {
        let (done, confirmed) = oneshot::channel();
        self.subs
            .send(SubCmd::Subscribe {
                channels,
                done: Some(done),
            })
            .map_err(|_| "the Pub/Sub listener has stopped".to_owned())?;
        confirmed
            .await
            .map_err(|_| "the Pub/Sub listener has stopped".to_owned())?
    }

    /// Registers a stream of `user_id` receiving `rooms`, and waits until its
    /// channels are subscribed: from then on it misses nothing published.
    pub async fn register(
        &self,
        user_id: &str,
        session_id: &str,
        rooms: Vec<String>,
        token: Arc<Mutex<String>>,
    ) -> Result<(ConnId, mpsc::Receiver<Arc<Outgoing>>), String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.buffer);
        let mut channels = vec![self.keys.user_channel(user_id)];
        channels.extend(rooms.iter().map(|r| self.keys.room_channel(r)));
        {
            let mut state = self.lock();
            state
                .by_user
                .entry(user_id.to_owned())
                .or_default()
                .insert(id);
            for room in &rooms {
                state.by_room.entry(room.clone()).or_default().insert(id);
            }
            state.conns.insert(
                id,
                Conn {
                    user_id: user_id.to_owned(),
                    session_id: session_id.to_owned(),
                    rooms: rooms.into_iter().collect(),
                    tx,
                    token,
                },
            );
        }
        if let Err(e) = self.subscribe(channels).await {
            self.unregister(id);
            return Err(e);
        }
        Ok((id, rx))
    }

    /// Removes a stream (closing it, if it was open) and releases its
    /// channels. Idempotent.
    pub fn unregister(&self, id: ConnId) {
        let channels = {
            let mut state = self.lock();
            let Some(conn) = state.conns.remove(&id) else {
                return;
            };
            remove_from(&mut state.by_user, &conn.user_id, id);
            for room in &conn.rooms {
                remove_from(&mut state.by_room, room, id);
            }
            let mut channels = vec![self.keys.user_channel(&conn.user_id)];
            channels.extend(conn.rooms.iter().map(|r| self.keys.room_channel(r)));
            channels
        };
        let _ = self.subs.send(SubCmd::Unsubscribe { channels });
    }

    /// The user's local streams start receiving `room_id`; waits until the
    /// room's channel is subscribed, so the caller can promise that the next
    /// message sent to the room reaches the user's streams here.
    pub async fn add_room(&self, user_id: &str, room_id: &str) -> Result<(), String> {
        match self.add_room_refs(user_id, room_id) {
            0 => Ok(()),
            added => {
                self.subscribe(vec![self.keys.room_channel(room_id); added])
                    .await
            }
        }
    }

    /// [`Hub::add_room`] without waiting for the subscription.
    fn add_room_later(&self, user_id: &str, room_id: &str) {
        let added = self.add_room_refs(user_id, room_id);
        if added > 0 {
            let channels = vec![self.keys.room_channel(room_id); added];
            let _ = self.subs.send(SubCmd::Subscribe {
                channels,
                done: None,
            });
        }
    }

    /// Adds the room to the user's streams that lack it; returns how many
    /// gained it (each holds one reference to the room's channel).
    fn add_room_refs(&self, user_id: &str, room_id: &str) -> usize {
        let mut state = self.lock();
        let ids = state.conns_of(user_id);
        let mut added = 0;
        for id in ids {
            if let Some(conn) = state.conns.get_mut(&id)
                && conn.rooms.insert(room_id.to_owned())
            {
                state
                    .by_room
                    .entry(room_id.to_owned())
                    .or_default()
                    .insert(id);
                added += 1;
            }
        }
        added
    }

    /// The user's local streams stop receiving `room_id`.
    pub fn remove_room(&self, user_id: &str, room_id: &str) {
        let removed = {
            let mut state = self.lock();
            let ids = state.conns_of(user_id);
            let mut removed = 0;
            for id in ids {
                if let Some(conn) = state.conns.get_mut(&id)
                    && conn.rooms.remove(room_id)
                {
                    remove_from(&mut state.by_room, room_id, id);
                    removed += 1;
                }
            }
            removed
        };
        if removed > 0 {
            let channels = vec![self.keys.room_channel(room_id); removed];
            let _ = self.subs.send(SubCmd::Unsubscribe { channels });
        }
    }

    /// Ends the user's local streams opened with `session_id`.
    pub fn revoke(&self, user_id: &str, session_id: &str) {
        let ids: Vec<ConnId> = {
            let state = self.lock();
            state
                .conns_of(user_id)
                .into_iter()
                .filter(|id| {
                    state
                        .conns
                        .get(id)
                        .is_some_and(|c| c.session_id == session_id)
                })
                .collect()
        };
        for id in ids {
            self.unregister(id);
        }
    }

    /// Ends every local stream (Redis connection lost, or shutting down):
    /// clients reconnect and resume with `Last-Event-ID`.
    pub fn close_all(&self) {
        let ids: Vec<ConnId> = self.lock().conns.keys().copied().collect();
        for id in ids {
            self.unregister(id);
        }
    }

    /// (user id, conn id, latest resume token) of every local stream.
    pub fn streams(&self) -> Vec<(String, ConnId, String)> {
        self.lock()
            .conns
            .iter()
            .map(|(id, c)| {
                let token = c.token.lock().map(|t| t.clone()).unwrap_or_default();
                (c.user_id.clone(), *id, token)
            })
            .collect()
    }

    /// Number of local streams.
    pub fn len(&self) -> usize {
        self.lock().conns.len()
    }

    /// Whether there are no local streams.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Delivers one Pub/Sub message.
    pub fn dispatch(&self, channel: &str, payload: &str) {
        let Some(channel) = self.keys.parse_channel(channel) else {
            return;
        };
        let Some(event) = Event::decode(payload) else {
            tracing::warn!(len = payload.len(), "ignoring an unparseable event");
            return;
        };
        match (event, channel) {
            (Event::Joined { room }, Channel::User(user)) => {
                // Streams on other instances than the one that handled the
                // join learn it here.
                self.add_room_later(user, &room);
            }
            (Event::Left { room }, Channel::User(user)) => self.remove_room(user, &room),
            (Event::Revoked { sid }, Channel::User(user)) => self.revoke(user, &sid),
            (event, channel) => {
                if let Some(out) = Outgoing::from_event(event) {
                    self.deliver(channel, Arc::new(out));
                }
            }
        }
    }

    /// Hands an event to every local stream that wants it; drops streams
    /// whose buffer is full.
    fn deliver(&self, channel: Channel<'_>, out: Arc<Outgoing>) {
        let mut too_slow = Vec::new();
        {
            let state = self.lock();
            let skip = out.skip_user.as_deref();
            let mut send = |id: &ConnId| {
                if let Some(conn) = state.conns.get(id)
                    && skip != Some(conn.user_id.as_str())
                    && conn.tx.try_send(out.clone()).is_err()
                {
                    too_slow.push(*id);
                }
            };
            match channel {
                Channel::Room(room) => state
                    .by_room
                    .get(room)
                    .into_iter()
                    .flatten()
                    .for_each(&mut send),
                Channel::User(user) => state
                    .by_user
                    .get(user)
                    .into_iter()
                    .flatten()
                    .for_each(&mut send),
            }
        }
        for id in too_slow {
            tracing::info!(conn = id, "dropping a stream that fell behind");
            crate::metrics::inc(&crate::metrics::SLOW_STREAMS_DROPPED);
            self.unregister(id);
        }
    }
}

fn remove_from(map: &mut HashMap<String, HashSet<ConnId>>, key: &str, id: ConnId) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> (Hub, mpsc::UnboundedReceiver<SubCmd>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Hub::new(Keys::new("t:"), 2, tx), rx)
    }

    /// Confirms subscriptions as a listener would.
    fn confirm(mut rx: mpsc::UnboundedReceiver<SubCmd>) {
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                if let SubCmd::Subscribe {
                    done: Some(done), ..
                } = cmd
                {
                    let _ = done.send(Ok(()));
                }
            }
        });
    }

    const MSG: &str = r#"1-0 {"t":"m","room_id":"r1","sender":{"id":"u1","username":"a","display_name":"A"},"body":"hi"}"#;

    fn message_id(event: &Outgoing) -> Option<String> {
        event.message.map(|(_, id)| id.to_string())
    }

    #[tokio::test]
    async fn room_events_reach_only_streams_in_the_room() {
        let (hub, rx) = hub();
        confirm(rx);
        let (_, mut in_room) = hub
            .register("u1", "s", vec!["r1".into()], Default::default())
            .await
            .unwrap();
        let (_, mut elsewhere) = hub
            .register("u2", "s", vec!["r2".into()], Default::default())
            .await
            .unwrap();

        hub.dispatch("t:{r:r1}:events", MSG);

        assert_eq!(
            message_id(&in_room.try_recv().unwrap()).as_deref(),
            Some("1-0")
        );
        assert!(elsewhere.try_recv().is_err());
    }

    #[tokio::test]
    async fn joining_and_leaving_change_what_a_stream_receives() {
        let (hub, rx) = hub();
        confirm(rx);
        let (_, mut stream) = hub
            .register("u2", "s", vec![], Default::default())
            .await
            .unwrap();

        hub.add_room("u2", "r1").await.unwrap();
        hub.dispatch("t:{r:r1}:events", MSG);
        assert!(stream.try_recv().is_ok());

        hub.dispatch("t:{u:u2}:events", r#"{"t":"ml","room":"r1"}"#);
        hub.dispatch("t:{r:r1}:events", MSG);
        assert!(stream.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_stream_that_falls_behind_is_dropped_without_holding_up_others() {
        let (hub, rx) = hub();
        confirm(rx);
        let (_, mut slow) = hub
            .register("u1", "s", vec!["r1".into()], Default::default())
            .await
            .unwrap();
        let (_, mut fast) = hub
            .register("u2", "s", vec!["r1".into()], Default::default())
            .await
            .unwrap();

        for _ in 0..3 {
            hub.dispatch("t:{r:r1}:events", MSG);
            let _ = fast.try_recv();
        }

        assert_eq!(hub.len(), 1);
        // The slow stream got what fitted in its buffer, then its end.
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_some());
        assert!(slow.recv().await.is_none());
    }

    #[tokio::test]
    async fn revoking_a_session_ends_only_its_streams() {
        let (hub, rx) = hub();
        confirm(rx);
        let (_, mut a) = hub
            .register("u1", "s1", vec![], Default::default())
            .await
            .unwrap();
        let (_, mut b) = hub
            .register("u1", "s2", vec![], Default::default())
            .await
            .unwrap();

        hub.dispatch("t:{u:u1}:events", r#"{"t":"x","sid":"s1"}"#);

        assert!(a.recv().await.is_none());
        assert!(
            b.try_recv()
                .is_err_and(|e| e == mpsc::error::TryRecvError::Empty)
        );
    }
}
