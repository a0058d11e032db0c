// SPDX-License-Identifier: MIT
//! spacetimedb_client_api (stand-in): the HTTP API. SpacetimeDB serves it
//! with axum and hyper; the stand-in has its own HTTP/1.1 server (`http`),
//! WebSocket handshake and framing (`websocket`), and the routes with
//! SpacetimeDB's paths and status codes (`routes`). Handlers run on the
//! connection's thread and wait for the database's executor thread.

pub mod http;
pub mod routes;
pub mod websocket;

use spacetimedb::host::ModuleHost;

/// What the node offers the routes (SpacetimeDB's `NodeDelegate`).
pub trait NodeDelegate: Send + Sync {
    /// Every metric, in the Prometheus text format.
    fn gather_metrics(&self) -> String;
}

/// How the routes find databases (SpacetimeDB's `ControlStateDelegate`).
pub trait ControlStateDelegate: Send + Sync {
    fn get_module_host(&self, name_or_identity: &str) -> Option<ModuleHost>;
}
