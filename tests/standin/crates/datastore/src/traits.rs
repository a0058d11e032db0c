// SPDX-License-Identifier: MIT
//! The datastore's transaction-level interface and what a commit produces.

use crate::error::Result;
use crate::locking_tx_datastore::mut_tx::{InsertFlags, RowRefInsertion};
use spacetimedb_primitives::{ColList, TableId};
use spacetimedb_sats::ProductValue;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    Serializable,
}

/// The rows one table gained or lost in a transaction.
#[derive(Clone, Debug, Default)]
pub struct TableDelta {
    pub table_id: TableId,
    pub table_name: Box<str>,
    pub inserts: Vec<ProductValue>,
    pub deletes: Vec<ProductValue>,
}

/// What a committed transaction changed; input to subscription evaluation.
#[derive(Clone, Debug, Default)]
pub struct TxData {
    pub tx_offset: u64,
    pub tables: Vec<TableDelta>,
}

impl TxData {
    pub fn num_inserts(&self) -> u64 {
        self.tables.iter().map(|t| t.inserts.len() as u64).sum()
    }

    pub fn num_deletes(&self) -> u64 {
        self.tables.iter().map(|t| t.deletes.len() as u64).sum()
    }
}

/// Transactions that write, as SpacetimeDB's `MutTxDatastore`.
pub trait MutTxDatastore {
    type MutTx;

    fn insert_mut_tx<'a>(
        &'a self,
        tx: &'a mut Self::MutTx,
        table_id: TableId,
        row: &[u8],
    ) -> Result<(ColList, RowRefInsertion<'a>, InsertFlags)>;

    fn commit_mut_tx(&self, tx: Self::MutTx) -> Result<Option<Arc<TxData>>>;

    fn rollback_mut_tx(&self, tx: Self::MutTx);
}
