// SPDX-License-Identifier: MIT
//! `ModuleSubscriptions`: commits a transaction and evaluates the
//! subscriptions over it, on the executor thread.

use crate::db::RelationalDB;
use crate::error::DBError;
use crate::host::module_host::{DatabaseUpdate, EventStatus, ModuleEvent};
use crate::subscription::module_subscription_manager::{
    BsatnRowListBuilderPool, ClientConnectionSender, DeltaTx, RawModuleDefVersion, SubscriptionManager, TransactionOffset,
};
use spacetimedb_datastore::execution_context::Workload;
use spacetimedb_datastore::locking_tx_datastore::MutTxId;
use spacetimedb_execution::ExecutionMetrics;
use spacetimedb_table::table::TableSchema;
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub struct ModuleSubscriptions {
    relational_db: Arc<RelationalDB>,
    subscriptions: Arc<RwLock<SubscriptionManager>>,
    bsatn_rlb_pool: Arc<BsatnRowListBuilderPool>,
    module_def_version: RawModuleDefVersion,
}

pub struct CommitAndBroadcastEventResult {
    pub tx_offset: u64,
    pub event: Arc<ModuleEvent>,
    pub metrics: ExecutionMetrics,
}

impl ModuleSubscriptions {
    /// Subscriptions for a database: one whole-table query per table.
    pub fn new(relational_db: Arc<RelationalDB>, tables: &[TableSchema]) -> Self {
        let mut manager = SubscriptionManager::new(&relational_db.database_identity().to_hex());
        for t in tables {
            manager.add_query(t.table_id, Vec::new());
        }
        ModuleSubscriptions {
            relational_db,
            subscriptions: Arc::new(RwLock::new(manager)),
            bsatn_rlb_pool: Arc::new(BsatnRowListBuilderPool::default()),
            module_def_version: RawModuleDefVersion::V9,
        }
    }

    /// Commits `tx`, then evaluates every subscription over what it changed.
    pub fn commit_and_broadcast_event(
        &self,
        caller: Option<Arc<ClientConnectionSender>>,
        mut event: ModuleEvent,
        tx: MutTxId,
    ) -> Result<CommitAndBroadcastEventResult, DBError> {
        let data = match self.relational_db.commit_tx(tx)? {
            Some(data) => data,
            None => return Err(DBError::Other("the transaction was not committed".into())),
        };
        if let EventStatus::Committed(update) = &mut event.status {
            *update = DatabaseUpdate { tables: data.tables.clone() };
        }
        let event = Arc::new(event);
        let delta = DeltaTx { tx: self.relational_db.begin_tx(Workload::Subscribe), data: data.clone() };
        let offset = TransactionOffset(data.tx_offset);
        let subs = self.subscriptions.read().unwrap_or_else(|e| e.into_inner());
        let (metrics, _matched) =
            subs.eval_updates_sequential((&delta, offset), &self.bsatn_rlb_pool, self.module_def_version, event.clone(), caller);
        drop(subs);
        self.relational_db.release_tx(delta.tx);
        Ok(CommitAndBroadcastEventResult { tx_offset: data.tx_offset, event, metrics })
    }
}
