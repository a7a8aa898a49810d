//! One webhook's deliverer: while this instance holds the webhook's lease,
//! take the next entry in order, post it until it is acknowledged (2xx) or
//! given up, then the next.
//!
//! "Next in order": a webhook reads two streams, its room's messages and
//! changes. The deliverer keeps at most one unacknowledged entry per stream
//! (a *head*) and always delivers the older head first. A head missing from
//! one stream is read (or claimed) before choosing, and an entry added to a
//! stream later has a later id than every head already held (both streams
//! are stamped by the same Redis clock, in the room's slot), so entries go
//! out in the order they were written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Webhooks;
use super::client::{Attempt, signature};
use crate::clock::now_ms;
use crate::event::Event;
use crate::metrics;
use crate::model::Message;
use crate::store::webhooks::{Feed, Lease, WebhookEntry, WebhookRecord};

/// How long a deliverer with nothing to deliver waits before looking again
/// (a shared connection cannot block in `XREADGROUP`; one connection per
/// webhook would not scale to many webhooks).
const IDLE_POLL: Duration = Duration::from_millis(50);

/// What a deliverer does next.
enum Next {
    /// Go on.
    Continue,
    /// Stop: the lease is lost, the webhook is gone, or the instance stops.
    Stop,
}

/// The unacknowledged entries a deliverer holds, at most one per stream.
#[derive(Default)]
struct Heads {
    /// From the messages stream.
    messages: Option<WebhookEntry>,
    /// From the changes stream.
    changes: Option<WebhookEntry>,
}

impl Heads {
    fn slot(&mut self, feed: Feed) -> &mut Option<WebhookEntry> {
        match feed {
            Feed::Messages => &mut self.messages,
            Feed::Changes => &mut self.changes,
        }
    }

    fn count(&self) -> u64 {
        u64::from(self.messages.is_some()) + u64::from(self.changes.is_some())
    }

    /// Takes the older head.
    fn take_oldest(&mut self) -> Option<WebhookEntry> {
        match (&self.messages, &self.changes) {
            (Some(m), Some(c)) if c.id < m.id => self.changes.take(),
            (Some(_), _) => self.messages.take(),
            (None, _) => self.changes.take(),
        }
    }
}

impl Webhooks {
    /// Delivers one webhook's messages while this instance holds its lease.
    pub(super) async fn deliver(self: Arc<Self>, room_id: &str, webhook_id: &str) {
        let mut heads = Heads::default();
        let mut renewed = None;
        // The webhook's record, read again after any failure (a deleted
        // webhook's groups are gone, so reading fails, and the record with
        // them).
        let mut hook: Option<WebhookRecord> = None;
        // Whether entries another consumer held (a stopped instance's) may
        // remain: true until every pending entry is one of ours. While this
        // instance holds the lease nobody else reads, so once clear it stays
        // clear.
        let mut foreign = true;
        loop {
            match self.keep_lease(room_id, webhook_id, &mut renewed).await {
                Next::Continue => {}
                Next::Stop => break,
            }
            let current = match &hook {
                Some(hook) => hook.clone(),
                None => match self.store.webhook(room_id, webhook_id).await {
                    Ok(Some(found)) => {
                        hook = Some(found.clone());
                        found
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(error = %e, "webhook deliverer: Redis unavailable");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            if let Err(e) = self.fill(&current, &mut heads, &mut foreign).await {
                tracing::debug!(error = %e, "webhook deliverer: could not read");
                hook = None;
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            let Some(entry) = heads.take_oldest() else {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            };
            match self.deliver_entry(&current, entry, &mut renewed).await {
                Next::Continue => {}
                Next::Stop => break,
            }
        }
        if self.is_stopping() {
            let _ = self
                .store
                .release_webhook_lease(room_id, webhook_id, &self.instance)
                .await;
        }
    }

    /// Renews the lease when a third of it has passed; `Stop` when it is
    /// another instance's, the webhook is gone or this instance stops.
    async fn keep_lease(
        &self,
        room_id: &str,
        webhook_id: &str,
        renewed: &mut Option<Instant>,
    ) -> Next {
        if self.is_stopping() {
            return Next::Stop;
        }
        let lease = Duration::from_millis(self.settings.takeover_ms);
        if renewed.is_some_and(|at| at.elapsed() < lease / 3) {
            return Next::Continue;
        }
        match self
            .store
            .webhook_lease(
                room_id,
                webhook_id,
                &self.instance,
                self.settings.takeover_ms,
            )
            .await
        {
            Ok(Lease::Held) => {
                *renewed = Some(Instant::now());
                Next::Continue
            }
            Ok(Lease::Elsewhere | Lease::Gone) => Next::Stop,
            Err(e) => {
                // Redis away: keep what is held; the lease may lapse, and
                // then another instance delivers (at least once).
                tracing::debug!(error = %e, "webhook deliverer: could not renew its lease");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Next::Continue
            }
        }
    }

    /// Completes the heads: first what a stopped instance held (once idle
    /// for the take-over time), then, only when no one else holds anything,
    /// new entries (one read for both streams).
    async fn fill(
        &self,
        hook: &WebhookRecord,
        heads: &mut Heads,
        foreign: &mut bool,
    ) -> crate::store::StoreResult<()> {
        let (room, id) = (&hook.room_id, &hook.id);
        let store = &self.store;
        if *foreign {
            for feed in [Feed::Messages, Feed::Changes] {
                if heads.slot(feed).is_none() {
                    *heads.slot(feed) = store
                        .claim_webhook_entry(
                            room,
                            id,
                            feed,
                            &self.instance,
                            self.settings.takeover_ms,
                        )
                        .await?;
                }
            }
            // Entries held by another consumer and not claimable yet come
            // before anything new: wait for them.
            if store.webhook_pending(room, id).await? > heads.count() {
                return Ok(());
            }
            *foreign = false;
        }
        let wanted: Vec<Feed> = [Feed::Messages, Feed::Changes]
            .into_iter()
            .filter(|feed| heads.slot(*feed).is_none())
            .collect();
        if !wanted.is_empty() {
            for entry in store
                .read_webhook_entries(room, id, &wanted, &self.instance)
                .await?
            {
                let feed = entry.feed;
                *heads.slot(feed) = Some(entry);
            }
        }
        Ok(())
    }

    /// Posts one entry until a 2xx acknowledges it or it is given up;
    /// retries wait about a second, doubling up to `max_backoff_secs`, with
    /// jitter. `Stop` leaves the entry unacknowledged for whoever delivers
    /// the webhook next.
    async fn deliver_entry(
        &self,
        hook: &WebhookRecord,
        entry: WebhookEntry,
        renewed: &mut Option<Instant>,
    ) -> Next {
        let (room, id) = (&hook.room_id, &hook.id);
        let entry_id = entry.id.to_string();
        let Some(mut event) = entry.event else {
            let _ = self
                .store
                .finish_webhook_delivery(room, id, entry.feed, &entry_id, Some("unreadable entry"))
                .await;
            return Next::Continue;
        };
        // Messages go out as they are now (a deleted one without its text).
        if let Err(e) = self
            .store
            .current_versions(std::slice::from_mut(&mut event))
            .await
        {
            tracing::debug!(error = %e, "webhook deliverer: could not read edits");
        }
        let Some((kind, message)) = payload_message(event) else {
            let _ = self
                .store
                .finish_webhook_delivery(room, id, entry.feed, &entry_id, Some("not a message"))
                .await;
            return Next::Continue;
        };
        let body = json!({"type": kind, "webhook_id": id, "message": message}).to_string();
        let feed_tag = match entry.feed {
            Feed::Messages => "m",
            Feed::Changes => "c",
        };
        let delivery_id = format!("{id}.{feed_tag}.{entry_id}");
        let url = match reqwest::Url::parse(&hook.url) {
            Ok(url) => url,
            Err(_) => {
                let _ = self
                    .store
                    .finish_webhook_delivery(room, id, entry.feed, &entry_id, Some("bad URL"))
                    .await;
                return Next::Continue;
            }
        };
        let mut attempt: u32 = 0;
        loop {
            let secs = now_ms() / 1000;
            let headers = [
                ("confab-webhook-id", id.clone()),
                ("confab-delivery-id", delivery_id.clone()),
                (
                    "confab-signature",
                    signature(&hook.secret, secs, body.as_bytes()),
                ),
            ];
            let outcome = self
                .poster
                .post(&url, body.clone().into_bytes(), &headers)
                .await;
            match outcome {
                Attempt::Delivered => {
                    metrics::inc(&metrics::WEBHOOK_DELIVERED);
                    metrics::observe_webhook_lag(
                        now_ms().saturating_sub(entry.id.ms) as f64 / 1000.0,
                    );
                    let _ = self
                        .store
                        .finish_webhook_delivery(room, id, entry.feed, &entry_id, None)
                        .await;
                    return Next::Continue;
                }
                Attempt::Failed(error) => {
                    metrics::inc(&metrics::WEBHOOK_FAILED_ATTEMPTS);
                    attempt = attempt.saturating_add(1);
                    let age_ms = now_ms().saturating_sub(entry.id.ms);
                    if age_ms >= self.settings.give_up_after_secs.saturating_mul(1000) {
                        metrics::inc(&metrics::WEBHOOK_GIVEN_UP);
                        let _ = self
                            .store
                            .finish_webhook_delivery(room, id, entry.feed, &entry_id, Some(&error))
                            .await;
                        return Next::Continue;
                    }
                    let _ = self.store.note_webhook_error(room, id, &error).await;
                    metrics::inc(&metrics::WEBHOOK_RETRIES);
                    let wait = self.backoff(attempt);
                    if let Next::Stop = self.wait_holding(room, id, wait, renewed).await {
                        return Next::Stop;
                    }
                }
            }
        }
    }

    /// The wait before retry `attempt` (1 = the first retry): about a second,
    /// doubling, at most `max_backoff_secs`, each between 80% and 120% of
    /// that so receivers that fail together are not retried together.
    fn backoff(&self, attempt: u32) -> Duration {
        let base_ms = 1000u64
            .saturating_mul(1u64 << attempt.saturating_sub(1).min(30))
            .min(self.settings.max_backoff_secs.saturating_mul(1000).max(1));
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        let factor = 0.8 + f64::from(byte[0]) / 255.0 * 0.4;
        Duration::from_millis((base_ms as f64 * factor) as u64)
    }

    /// Sleeps `wait`, keeping the lease; `Stop` if it is lost meanwhile.
    async fn wait_holding(
        &self,
        room_id: &str,
        webhook_id: &str,
        wait: Duration,
        renewed: &mut Option<Instant>,
    ) -> Next {
        let until = Instant::now() + wait;
        let step =
            Duration::from_millis(self.settings.takeover_ms / 3).max(Duration::from_millis(100));
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Next::Continue;
            }
            tokio::time::sleep(left.min(step).min(Duration::from_millis(500))).await;
            // Checked at every step, not only when the lease is due: a
            // webhook deleted meanwhile gets no further attempt.
            *renewed = None;
            if let Next::Stop = self.keep_lease(room_id, webhook_id, renewed).await {
                return Next::Stop;
            }
        }
    }
}

/// The `type` and `message` of a delivery's body.
fn payload_message(event: Event) -> Option<(&'static str, Message)> {
    match event {
        Event::RoomMessage(m) => Some(("message", Message::from(m))),
        Event::RoomMessageEdited(c) => Some(("message_edited", c.message)),
        Event::RoomMessageDeleted(c) => Some(("message_deleted", c.message)),
        _ => None,
    }
}
