//! What every request handler can reach: the shared application state.
//! Built once by [`crate::startup::Application::build`] and handed to actix
//! as `web::Data`; lower modules (the service layer, the `AuthUser`
//! extractor) import it from here, never from `startup`.

use std::sync::Arc;

use crate::auth::password::Hasher;
use crate::auth::token::Tokens;
use crate::config::Settings;
use crate::connections::Connections;
use crate::realtime::Realtime;
use crate::store::Store;

/// The handles behind every request. Cheap to share: each field is a
/// handle (a multiplexed Redis connection, keys, `Arc`s).
pub struct AppState {
    /// Redis: everything confab stores.
    pub store: Store,
    /// Signs and checks access tokens.
    pub tokens: Tokens,
    /// Hashes and checks passwords on its own threads, a bounded number at
    /// a time.
    pub hasher: Hasher,
    /// The settings confab was started with.
    pub settings: Arc<Settings>,
    /// This instance's event streams and their delivery.
    pub realtime: Arc<Realtime>,
    /// This instance's webhook deliverers.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
    /// This instance's client connections, counted against its caps.
    pub connections: Arc<Connections>,
}
