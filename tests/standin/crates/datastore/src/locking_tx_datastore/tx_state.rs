// SPDX-License-Identifier: MIT
//! One mutable transaction's pending changes: rows it inserted (in tables of
//! their own) and committed rows it deleted.

use spacetimedb_primitives::TableId;
use spacetimedb_table::table::{HashMapBlobStore, RowPointer, Table};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default)]
pub struct TxState {
    pub(crate) insert_tables: BTreeMap<TableId, Table>,
    pub(crate) delete_tables: BTreeMap<TableId, BTreeSet<RowPointer>>,
    pub(crate) blob_store: HashMapBlobStore,
}

impl TxState {
    /// Whether the committed row `pointer` of `table_id` is deleted here.
    pub fn is_deleted(&self, table_id: TableId, pointer: RowPointer) -> bool {
        self.delete_tables.get(&table_id).map_or(false, |s| s.contains(&pointer))
    }

    pub fn get_insert_table(&self, table_id: TableId) -> Option<&Table> {
        self.insert_tables.get(&table_id)
    }
}
