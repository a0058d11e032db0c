// SPDX-License-Identifier: MIT
//! `SubscriptionManager`: the subscribed queries of one database and their
//! incremental evaluation over each committed transaction's changes
//! (`eval_updates_sequential`, on the executor thread, after every commit).
//! The stand-in subscribes one query, `SELECT * FROM <table>`, per user
//! table, as a client that watches everything would; nothing is sent
//! anywhere (the WebSocket route only echoes).

use crate::host::module_host::{EventStatus, ModuleEvent};
use crate::identity::ConnectionId;
use crate::worker_metrics::WORKER_METRICS;
use spacetimedb_datastore::locking_tx_datastore::TxId;
use spacetimedb_datastore::traits::TxData;
use spacetimedb_execution::ExecutionMetrics;
use spacetimedb_primitives::TableId;
use spacetimedb_query::Predicate;
use spacetimedb_sats::bsatn;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The offset of the transaction being evaluated.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionOffset(pub u64);

/// A committed transaction: its changes and a read view after it.
pub struct DeltaTx {
    pub tx: TxId,
    pub data: Arc<TxData>,
}

/// Buffers that query updates are encoded into (here only a byte count).
#[derive(Debug, Default)]
pub struct BsatnRowListBuilderPool {
    bytes_built: AtomicU64,
}

impl BsatnRowListBuilderPool {
    pub fn bytes_built(&self) -> u64 {
        self.bytes_built.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawModuleDefVersion {
    V9,
    V10,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionIdV2(pub u32);

/// A connected client's outgoing queue (the stand-in has no WS clients).
#[derive(Debug)]
pub struct ClientConnectionSender {
    pub id: ConnectionId,
}

struct Query {
    id: SubscriptionIdV2,
    table_id: TableId,
    filter: Vec<Predicate>,
}

pub struct SubscriptionManager {
    queries: Vec<Query>,
    /// The database identity in hex, for metric labels.
    db_label: Box<str>,
}

impl SubscriptionManager {
    pub fn new(db_label: &str) -> Self {
        SubscriptionManager { queries: Vec::new(), db_label: db_label.into() }
    }

    /// Subscribes `SELECT * FROM <table_id> [WHERE filter]`.
    pub fn add_query(&mut self, table_id: TableId, filter: Vec<Predicate>) -> SubscriptionIdV2 {
        let id = SubscriptionIdV2(self.queries.len() as u32 + 1);
        self.queries.push(Query { id, table_id, filter });
        id
    }

    pub fn num_queries(&self) -> usize {
        self.queries.len()
    }

    /// Evaluates every subscribed query over the changes of one committed
    /// transaction; the metrics and the queries that matched a row.
    /// #[inline(never)]: SpacetimeDB's is large; the stand-in's has one
    /// caller and would be inlined there.
    #[inline(never)]
    pub fn eval_updates_sequential(
        &self,
        (tx, tx_offset): (&DeltaTx, TransactionOffset),
        bsatn_rlb_pool: &BsatnRowListBuilderPool,
        module_def_version: RawModuleDefVersion,
        event: Arc<ModuleEvent>,
        caller: Option<Arc<ClientConnectionSender>>,
    ) -> (ExecutionMetrics, Vec<SubscriptionIdV2>) {
        let _ = (module_def_version, caller);
        let mut metrics = ExecutionMetrics::default();
        let mut matched = Vec::new();
        if !matches!(event.status, EventStatus::Committed(_)) || tx.data.tx_offset != tx_offset.0 {
            return (metrics, matched);
        }
        for q in &self.queries {
            metrics.delta_queries_evaluated += 1;
            let delta = match tx.data.tables.iter().find(|d| d.table_id == q.table_id) {
                Some(d) => d,
                None => continue,
            };
            let mut encoded = Vec::new();
            for row in delta.inserts.iter().chain(delta.deletes.iter()) {
                metrics.rows_scanned += 1;
                if q.filter.iter().all(|p| p.matches(row)) {
                    bsatn::encode_product(row, &mut encoded);
                }
            }
            if !encoded.is_empty() {
                metrics.delta_queries_matched += 1;
                bsatn_rlb_pool.bytes_built.fetch_add(encoded.len() as u64, Ordering::Relaxed);
                matched.push(q.id);
            }
        }
        WORKER_METRICS.delta_queries_evaluated.inc_by(&[&self.db_label], metrics.delta_queries_evaluated);
        WORKER_METRICS.delta_queries_matched.inc_by(&[&self.db_label], metrics.delta_queries_matched);
        (metrics, matched)
    }
}
