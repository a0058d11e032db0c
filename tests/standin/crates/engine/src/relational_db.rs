// SPDX-License-Identifier: MIT
//! `RelationalDB`: transactions, table creation and row inserts of one
//! database. Its methods are thin wrappers, as in SpacetimeDB, and under
//! thin LTO most of them are inlined into their callers (no symbol).

use crate::error::DBError;
use spacetimedb_datastore::execution_context::Workload;
use spacetimedb_datastore::locking_tx_datastore::datastore::Locking;
use spacetimedb_datastore::locking_tx_datastore::mut_tx::{InsertFlags, RowRefInsertion};
use spacetimedb_datastore::locking_tx_datastore::{MutTxId, TxId};
use spacetimedb_datastore::traits::{IsolationLevel, MutTxDatastore, TxData};
use spacetimedb_primitives::{ColList, TableId};
use spacetimedb_sats::identity::Identity;
use spacetimedb_table::table::TableSchema;
use std::sync::Arc;

pub type MutTx = MutTxId;
pub type Tx = TxId;

pub struct RelationalDB {
    inner: Locking,
    database_identity: Identity,
    owner_identity: Identity,
}

impl RelationalDB {
    pub fn new(database_identity: Identity, owner_identity: Identity) -> Self {
        RelationalDB { inner: Locking::bootstrap(&database_identity.to_hex()), database_identity, owner_identity }
    }

    pub fn database_identity(&self) -> Identity {
        self.database_identity
    }

    pub fn owner_identity(&self) -> Identity {
        self.owner_identity
    }

    pub fn create_table(&self, schema: TableSchema) {
        self.inner.create_table(schema)
    }

    pub fn begin_mut_tx(&self, isolation_level: IsolationLevel, workload: Workload) -> MutTx {
        self.inner.begin_mut_tx(isolation_level, workload)
    }

    pub fn begin_tx(&self, _workload: Workload) -> Tx {
        self.inner.begin_tx()
    }

    pub fn release_tx(&self, tx: Tx) {
        drop(tx)
    }

    pub fn commit_tx(&self, tx: MutTx) -> Result<Option<Arc<TxData>>, DBError> {
        Ok(self.inner.commit_mut_tx(tx)?)
    }

    pub fn rollback_mut_tx(&self, tx: MutTx) {
        self.inner.rollback_mut_tx(tx)
    }

    pub fn insert<'a>(
        &'a self,
        tx: &'a mut MutTx,
        table_id: TableId,
        row: &[u8],
    ) -> Result<(ColList, RowRefInsertion<'a>, InsertFlags), DBError> {
        Ok(self.inner.insert_mut_tx(tx, table_id, row)?)
    }

    /// Committed row counts per table (any thread).
    pub fn table_row_counts(&self) -> Vec<(TableId, Box<str>, u64)> {
        self.inner.table_row_counts()
    }
}
