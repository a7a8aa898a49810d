//! What operators and orchestrators ask of an instance.

use crate::error::ApiError;
use crate::state::AppState;

/// Whether this instance can serve: Redis answers.
pub async fn ready(state: &AppState) -> Result<(), ApiError> {
    Ok(state.store.ping().await?)
}

/// This instance's metrics in the Prometheus text format.
pub fn metrics_text(state: &AppState) -> String {
    crate::metrics::render(
        state.realtime.open_streams(),
        state.connections.open_count(),
    )
}
