// SPDX-License-Identifier: MIT
//! The committed tables of one database.

use spacetimedb_primitives::{IndexId, TableId};
use spacetimedb_table::table::{HashMapBlobStore, PagePool, Table, TableSchema};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct CommittedState {
    pub(crate) tables: BTreeMap<TableId, Table>,
    pub(crate) page_pool: PagePool,
    pub(crate) blob_store: HashMapBlobStore,
    /// The offset the next committed transaction gets.
    pub(crate) next_tx_offset: u64,
}

impl Clone for CommittedState {
    /// A deep copy (only taken if a snapshot is still alive at commit).
    fn clone(&self) -> Self {
        CommittedState {
            tables: self.tables.clone(),
            page_pool: PagePool::default(),
            blob_store: HashMapBlobStore::default(),
            next_tx_offset: self.next_tx_offset,
        }
    }
}

impl CommittedState {
    pub fn get_table(&self, table_id: TableId) -> Option<&Table> {
        self.tables.get(&table_id)
    }

    pub fn schema_for_table(&self, table_id: TableId) -> Option<Arc<TableSchema>> {
        self.tables.get(&table_id).map(|t| t.schema.clone())
    }

    pub fn table_id_from_name(&self, name: &str) -> Option<TableId> {
        self.tables.values().find(|t| &*t.schema.table_name == name).map(|t| t.schema.table_id)
    }

    /// The table that holds index `index_id`, with the index's schema position.
    pub fn table_for_index(&self, index_id: IndexId) -> Option<&Table> {
        self.tables.values().find(|t| t.schema.indexes.iter().any(|ix| ix.index_id == index_id))
    }

    pub fn index_id_from_name(&self, name: &str) -> Option<IndexId> {
        self.tables
            .values()
            .flat_map(|t| t.schema.indexes.iter())
            .find(|ix| &*ix.index_name == name)
            .map(|ix| ix.index_id)
    }

    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.tables.values()
    }

    pub fn page_pool(&self) -> &PagePool {
        &self.page_pool
    }
}
