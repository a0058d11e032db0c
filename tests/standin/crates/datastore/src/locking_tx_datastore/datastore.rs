// SPDX-License-Identifier: MIT
//! `Locking`: one database's datastore. Committed state sits behind a
//! RwLock as an `Arc` snapshot: transactions clone the `Arc`, commit writes
//! in place once every snapshot is gone (they are: all transactions of a
//! database run one at a time on its executor thread). Other threads may
//! call the read-only accessors (row counts for metrics) at any time.

use super::committed_state::CommittedState;
use super::mut_tx::{InsertFlags, MutTxId, RowRefInsertion};
use super::sequence::{Sequence, SequencesState};
use super::tx::TxId;
use super::tx_state::TxState;
use crate::db_metrics::DB_METRICS;
use crate::error::Result;
use crate::execution_context::Workload;
use crate::system_tables::{st_sequence_row, st_sequence_schema, ST_SEQUENCE_ID};
use crate::traits::{IsolationLevel, MutTxDatastore, TableDelta, TxData};
use spacetimedb_execution::ExecutionMetrics;
use spacetimedb_primitives::{ColList, TableId};
use spacetimedb_sats::bsatn;
use spacetimedb_table::table::{Table, TableSchema};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

pub struct Locking {
    committed_state: RwLock<Arc<CommittedState>>,
    sequence_state: Arc<Mutex<SequencesState>>,
    /// The database's identity in hex: the `db` label of the metrics.
    database_identity: Box<str>,
}

impl Locking {
    /// An empty datastore with its system tables.
    pub fn bootstrap(database_identity: &str) -> Self {
        let mut committed = CommittedState::default();
        let st = Arc::new(st_sequence_schema());
        committed.tables.insert(ST_SEQUENCE_ID, Table::new(st));
        Locking {
            committed_state: RwLock::new(Arc::new(committed)),
            sequence_state: Arc::new(Mutex::new(SequencesState::default())),
            database_identity: database_identity.into(),
        }
    }

    fn write_committed(&self) -> std::sync::RwLockWriteGuard<'_, Arc<CommittedState>> {
        self.committed_state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self) -> Arc<CommittedState> {
        self.committed_state.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Creates a table (committed at once) and the `st_sequence` rows of
    /// its auto_inc columns.
    pub fn create_table(&self, schema: TableSchema) {
        let mut guard = self.write_committed();
        let committed = Arc::make_mut(&mut guard);
        let mut seqs = self.sequence_state.lock().unwrap_or_else(|e| e.into_inner());
        for seq in &schema.sequences {
            seqs.add(seq.sequence_id, Sequence { table_id: schema.table_id, col: seq.col, value: 1, allocated: 1 });
            let row = bsatn::to_vec(&st_sequence_row(seq.sequence_id, schema.table_id, seq.col, 1));
            let CommittedState { tables, page_pool, blob_store, .. } = committed;
            if let Some(st) = tables.get_mut(&ST_SEQUENCE_ID) {
                st.insert_checked(page_pool, blob_store, &row);
            }
        }
        committed.tables.insert(schema.table_id, Table::new(Arc::new(schema)));
    }

    pub fn begin_mut_tx(&self, _isolation_level: IsolationLevel, workload: Workload) -> MutTxId {
        MutTxId {
            tx_state: TxState::default(),
            committed_state: self.snapshot(),
            sequence_state: self.sequence_state.clone(),
            workload,
            timer: Instant::now(),
            metrics: ExecutionMetrics::default(),
        }
    }

    pub fn begin_tx(&self) -> TxId {
        TxId { committed_state: self.snapshot() }
    }

    /// The number of committed rows of each table, with its id and name.
    pub fn table_row_counts(&self) -> Vec<(TableId, Box<str>, u64)> {
        let guard = self.committed_state.read().unwrap_or_else(|e| e.into_inner());
        guard.tables().map(|t| (t.schema.table_id, t.schema.table_name.clone(), t.row_count())).collect()
    }

    pub fn database_identity(&self) -> &str {
        &self.database_identity
    }

    fn report_txn(&self, workload: &Workload, committed: bool) {
        DB_METRICS.num_txns_total.inc(&[
            workload.txn_type(),
            &self.database_identity,
            workload.reducer_name(),
            if committed { "true" } else { "false" },
        ]);
    }
}

impl MutTxDatastore for Locking {
    type MutTx = MutTxId;

    fn insert_mut_tx<'a>(
        &'a self,
        tx: &'a mut MutTxId,
        table_id: TableId,
        row: &[u8],
    ) -> Result<(ColList, RowRefInsertion<'a>, InsertFlags)> {
        tx.insert::<true>(table_id, row)
    }

    /// Applies the transaction's deletes then inserts to the committed
    /// state; what changed, per table (tables with no change left out).
    fn commit_mut_tx(&self, tx: MutTxId) -> Result<Option<Arc<TxData>>> {
        let MutTxId { tx_state, committed_state, workload, .. } = tx;
        drop(committed_state); // so that make_mut below writes in place
        let mut guard = self.write_committed();
        let committed = Arc::make_mut(&mut guard);
        let mut data = TxData { tx_offset: committed.next_tx_offset, tables: Vec::new() };
        committed.next_tx_offset += 1;
        let TxState { insert_tables, delete_tables, .. } = tx_state;
        let CommittedState { tables, page_pool, blob_store, .. } = committed;
        for (table_id, pointers) in delete_tables {
            let table = match tables.get_mut(&table_id) {
                Some(t) => t,
                None => continue,
            };
            let mut delta = TableDelta { table_id, table_name: table.schema.table_name.clone(), ..TableDelta::default() };
            for p in pointers {
                if let Some(bytes) = table.delete(p) {
                    if let Ok(row) = bsatn::decode_product(&table.schema.row_type, &bytes) {
                        delta.deletes.push(row);
                    }
                }
            }
            data.tables.push(delta);
        }
        for (table_id, inserted) in insert_tables {
            let table = match tables.get_mut(&table_id) {
                Some(t) => t,
                None => continue,
            };
            let pos = match data.tables.iter().position(|d| d.table_id == table_id) {
                Some(pos) => pos,
                None => {
                    data.tables.push(TableDelta { table_id, table_name: table.schema.table_name.clone(), ..TableDelta::default() });
                    data.tables.len() - 1
                }
            };
            for r in inserted.scan_rows() {
                if table.insert_checked(page_pool, blob_store, r.bsatn()).is_some() {
                    data.tables[pos].inserts.push(r.to_product_value());
                }
            }
        }
        drop(guard);
        data.tables.retain(|d| !d.inserts.is_empty() || !d.deletes.is_empty());
        for d in &data.tables {
            let table_id = d.table_id.to_string();
            let l = [workload.txn_type(), &self.database_identity, workload.reducer_name(), &table_id, &d.table_name];
            if !d.inserts.is_empty() {
                DB_METRICS.num_rows_inserted_total.inc_by(&l, d.inserts.len() as u64);
            }
            if !d.deletes.is_empty() {
                DB_METRICS.num_rows_deleted_total.inc_by(&l, d.deletes.len() as u64);
            }
        }
        self.report_txn(&workload, true);
        Ok(Some(Arc::new(data)))
    }

    fn rollback_mut_tx(&self, tx: MutTxId) {
        self.report_txn(&tx.workload, false);
    }
}
