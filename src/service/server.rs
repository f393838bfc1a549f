//! The scoring server as the window sees it: something that can be started for the active
//! model and stopped. The window holds no HTTP code; the binary hands it a launcher (the
//! `serve` front end implements this), so front ends never import each other.

use std::net::SocketAddr;

use super::models::LoadedModel;

/// Starts a scoring server for a model on an address.
pub trait ServerLauncher: Send + Sync {
    fn start(&self, model: LoadedModel, bind: SocketAddr) -> anyhow::Result<Box<dyn RunningService>>;
}

/// A server that is running.
pub trait RunningService: Send {
    fn address(&self) -> SocketAddr;
    fn model(&self) -> &str;
    /// Stops accepting and waits for requests in flight.
    fn stop(self: Box<Self>);
}
