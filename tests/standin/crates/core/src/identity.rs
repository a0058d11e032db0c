// SPDX-License-Identifier: MIT
//! Identities and connection ids.

pub use spacetimedb_sats::identity::{AuthCtx, Identity};

/// A client connection's id (128 bits; zero for HTTP calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ConnectionId(pub u128);

impl ConnectionId {
    pub const ZERO: ConnectionId = ConnectionId(0);
}
