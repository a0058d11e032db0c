// SPDX-License-Identifier: MIT
//! Read-only transactions: a snapshot of the committed state.

use super::committed_state::CommittedState;
use spacetimedb_execution::{Datastore, ExecError, ExecutionMetrics};
use spacetimedb_primitives::{IndexId, TableId};
use spacetimedb_sats::{bsatn, AlgebraicValue, ProductValue};
use spacetimedb_table::table::TableSchema;
use std::sync::Arc;

pub struct TxId {
    pub(crate) committed_state: Arc<CommittedState>,
}

impl TxId {
    pub fn committed_state(&self) -> &CommittedState {
        &self.committed_state
    }
}

fn not_found(table_id: TableId) -> ExecError {
    ExecError(format!("Table with ID `{table_id}` not found").into())
}

impl Datastore for TxId {
    fn table_schema(&self, table_id: TableId) -> Option<Arc<TableSchema>> {
        self.committed_state.schema_for_table(table_id)
    }

    fn table_scan(&self, table_id: TableId, metrics: &mut ExecutionMetrics) -> spacetimedb_execution::Result<Vec<ProductValue>> {
        let table = self.committed_state.get_table(table_id).ok_or_else(|| not_found(table_id))?;
        let mut out = Vec::new();
        for r in table.scan_rows() {
            metrics.rows_scanned += 1;
            metrics.bytes_scanned += r.bsatn().len() as u64;
            out.push(r.to_product_value());
        }
        Ok(out)
    }

    fn index_scan_point(
        &self,
        table_id: TableId,
        index_id: IndexId,
        key: &AlgebraicValue,
        metrics: &mut ExecutionMetrics,
    ) -> spacetimedb_execution::Result<Vec<ProductValue>> {
        let table = self.committed_state.get_table(table_id).ok_or_else(|| not_found(table_id))?;
        metrics.index_seeks += 1;
        Ok(table
            .index_seek_point(index_id, key)
            .map(|r| {
                metrics.rows_scanned += 1;
                metrics.bytes_scanned += r.bsatn().len() as u64;
                bsatn::decode_product(&table.schema.row_type, r.bsatn()).unwrap_or_else(|_| ProductValue::new(Vec::new()))
            })
            .into_iter()
            .collect())
    }
}
