//! Outgoing webhooks: every instance delivers room messages (and their
//! edits and deletes) to the rooms' webhooks, at least once, in order per
//! webhook, surviving crashes.
//!
//! # How delivery is shared
//! Each webhook has a consumer group on its room's messages stream and one
//! on its changes stream (`store::webhooks`): the groups are the queue. At
//! any time one instance delivers a webhook's messages, under a lease in
//! Redis (`webhooks.takeover_ms`) it renews while it works; every instance
//! looks for webhooks without a live lease once a second and takes them, so
//! webhooks spread over instances as they come up. One deliverer per
//! webhook is what keeps its messages in order: the next message is not
//! read before the previous one is acknowledged (`XACK` after a 2xx) or
//! given up. An instance that stops holds its entries unacknowledged; once
//! its lease lapses another instance takes the webhook and claims them
//! (`XAUTOCLAIM`, once idle for the same time) before reading anything new,
//! so nothing acknowledged is lost and nothing is skipped (a delivery in
//! flight when an instance died is sent again, with the same
//! `Confab-Delivery-Id`).
//!
//! # Layout
//! - [`address`]: which addresses a webhook may reach (SSRF);
//! - [`client`]: posting one delivery, signatures, URL checks;
//! - [`delivery`]: one webhook's deliverer (ordering, retries, take-over).

pub mod address;
pub mod client;
mod delivery;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::WebhookSettings;
use crate::domain::new_id;
use crate::store::Store;

/// The webhook deliverers of one instance.
pub struct Webhooks {
    /// Redis.
    store: Store,
    /// Posts deliveries.
    poster: client::Poster,
    /// Timeouts, retries, leases.
    settings: WebhookSettings,
    /// Names this instance's leases and its consumers in the groups.
    instance: String,
    /// Webhooks (room id, webhook id) this instance is delivering.
    running: Mutex<HashSet<(String, String)>>,
    /// Set once the instance shuts down: deliverers give their leases up.
    stopping: AtomicBool,
}

/// How often an instance looks for webhooks to deliver.
const LOOK_EVERY: Duration = Duration::from_secs(1);

impl Webhooks {
    /// Starts looking for webhooks to deliver, on the current runtime.
    pub fn start(settings: &WebhookSettings, store: Store) -> anyhow::Result<Arc<Self>> {
        let webhooks = Arc::new(Self {
            store,
            poster: client::Poster::new(settings)?,
            settings: settings.clone(),
            instance: new_id(),
            running: Mutex::new(HashSet::new()),
            stopping: AtomicBool::new(false),
        });
        actix_web::rt::spawn(webhooks.clone().supervise());
        Ok(webhooks)
    }

    /// Stops delivering (graceful shutdown): each deliverer finishes or
    /// abandons its attempt and gives its lease up, so another instance
    /// takes over at once.
    pub fn shutdown(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Once a second: starts a deliverer for every webhook this instance is
    /// not delivering yet (it ends at once if another instance holds the
    /// lease).
    async fn supervise(self: Arc<Self>) {
        let mut tick = tokio::time::interval(LOOK_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.is_stopping() {
            tick.tick().await;
            let all = match self.store.all_webhooks().await {
                Ok(all) => all,
                Err(e) => {
                    tracing::debug!(error = %e, "could not list webhooks");
                    continue;
                }
            };
            for hook in all {
                let fresh = self
                    .running
                    .lock()
                    .map(|mut running| running.insert(hook.clone()))
                    .unwrap_or(false);
                if fresh {
                    let this = self.clone();
                    actix_web::rt::spawn(async move {
                        this.clone().deliver(&hook.0, &hook.1).await;
                        if let Ok(mut running) = this.running.lock() {
                            running.remove(&hook);
                        }
                    });
                }
            }
        }
    }
}
