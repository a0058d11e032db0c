// SPDX-License-Identifier: MIT
//! What a running database replica shares between its host, its
//! instances and its HTTP handlers.

use crate::database_logger::DatabaseLogger;
use crate::db::RelationalDB;
use crate::identity::Identity;
use crate::subscription::module_subscription_actor::ModuleSubscriptions;
use std::sync::Arc;

/// A database as the control plane knows it.
#[derive(Clone, Debug)]
pub struct Database {
    pub database_identity: Identity,
    pub owner_identity: Identity,
    pub name: Box<str>,
}

pub struct ReplicaContext {
    pub database: Database,
    pub replica_id: u64,
    pub relational_db: Arc<RelationalDB>,
    pub logger: Arc<DatabaseLogger>,
    pub subscriptions: ModuleSubscriptions,
}
