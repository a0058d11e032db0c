// SPDX-License-Identifier: MIT
//! `SchemaViewer`: the query compiler's view of a transaction's schema.

use spacetimedb_datastore::locking_tx_datastore::TxId;
use spacetimedb_primitives::TableId;
use spacetimedb_query::SchemaView;
use spacetimedb_sats::identity::AuthCtx;
use spacetimedb_table::table::TableSchema;
use std::sync::Arc;

pub struct SchemaViewer<'a, T> {
    tx: &'a T,
    _auth: &'a AuthCtx,
}

impl<'a, T> SchemaViewer<'a, T> {
    pub fn new(tx: &'a T, auth: &'a AuthCtx) -> Self {
        SchemaViewer { tx, _auth: auth }
    }
}

impl SchemaView for SchemaViewer<'_, TxId> {
    fn table_id(&self, name: &str) -> Option<TableId> {
        self.tx.committed_state().table_id_from_name(name)
    }

    fn schema_for_table(&self, table_id: TableId) -> Option<Arc<TableSchema>> {
        self.tx.committed_state().schema_for_table(table_id)
    }
}
