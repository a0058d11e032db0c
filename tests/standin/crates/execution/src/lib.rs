// SPDX-License-Identifier: MIT
//! spacetimedb_execution (stand-in): the interface the query engine runs
//! against (`Datastore` for reads, `MutDatastore` for DML) and the counters
//! an execution fills in. The datastore crate implements the traits.

use spacetimedb_primitives::{IndexId, TableId};
use spacetimedb_sats::{AlgebraicValue, ProductValue};
use spacetimedb_table::table::TableSchema;
use std::fmt;
use std::sync::Arc;

/// An execution error, with its message for the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecError(pub Box<str>);

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ExecError {}

impl From<String> for ExecError {
    fn from(s: String) -> Self {
        ExecError(s.into())
    }
}

pub type Result<T> = std::result::Result<T, ExecError>;

/// What one query or transaction did, as SpacetimeDB's `ExecutionMetrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExecutionMetrics {
    pub rows_scanned: u64,
    pub bytes_scanned: u64,
    pub index_seeks: u64,
    pub rows_inserted: u64,
    pub rows_deleted: u64,
    pub rows_updated: u64,
    pub delta_queries_evaluated: u64,
    pub delta_queries_matched: u64,
}

impl ExecutionMetrics {
    pub fn merge(&mut self, other: ExecutionMetrics) {
        self.rows_scanned += other.rows_scanned;
        self.bytes_scanned += other.bytes_scanned;
        self.index_seeks += other.index_seeks;
        self.rows_inserted += other.rows_inserted;
        self.rows_deleted += other.rows_deleted;
        self.rows_updated += other.rows_updated;
        self.delta_queries_evaluated += other.delta_queries_evaluated;
        self.delta_queries_matched += other.delta_queries_matched;
    }
}

/// Read access to tables, for a transaction of either kind.
pub trait Datastore {
    fn table_schema(&self, table_id: TableId) -> Option<Arc<TableSchema>>;

    /// Every visible row of the table, committed ones first.
    fn table_scan(&self, table_id: TableId, metrics: &mut ExecutionMetrics) -> Result<Vec<ProductValue>>;

    /// The visible row with `key` in unique index `index_id` (0 or 1 rows).
    fn index_scan_point(
        &self,
        table_id: TableId,
        index_id: IndexId,
        key: &AlgebraicValue,
        metrics: &mut ExecutionMetrics,
    ) -> Result<Vec<ProductValue>>;
}

/// Writes, for a mutable transaction.
pub trait MutDatastore: Datastore {
    /// Inserts `row`; true when it is new, false when an identical row was
    /// already there (set semantics).
    fn insert_product_value(&mut self, table_id: TableId, row: &ProductValue) -> Result<bool>;

    /// Deletes the visible row equal to `row`; whether there was one.
    fn delete_product_value(&mut self, table_id: TableId, row: &ProductValue) -> Result<bool>;
}
