// SPDX-License-Identifier: MIT
//! Mutable transactions (`MutTxId`) and the free function `insert`, where
//! every row insert of the stand-in lands.
//!
//! `insert::<GENERATE>` is generic like SpacetimeDB's (since 1.3): two
//! instances with one demangled name, `GENERATE = true` for user rows (fills
//! auto_inc columns that hold 0) and `false` for `st_sequence` rewrites. It
//! is marked #[inline(never)]: SpacetimeDB's is large enough to stay a
//! symbol, but this short body would be inlined into its callers under
//! thin LTO, and the tracer hooks it by name.

use super::committed_state::CommittedState;
use super::sequence::{self, SequencesState};
use super::tx_state::TxState;
use crate::error::{DatastoreError, IndexError, Result, TableError};
use crate::execution_context::Workload;
use spacetimedb_execution::{Datastore, ExecError, ExecutionMetrics, MutDatastore};
use spacetimedb_primitives::{ColList, IndexId, TableId};
use spacetimedb_sats::{bsatn, AlgebraicValue, ProductValue};
use spacetimedb_table::table::{InsertError, RowRef, Table, TableSchema};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Facts about an insert the caller may act on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertFlags {
    pub is_scheduler_table: bool,
}

/// The row an insert left in place: the new one, or an identical row that
/// was already there (set semantics: not an error).
#[derive(Clone, Copy, Debug)]
pub enum RowRefInsertion<'a> {
    Inserted(RowRef<'a>),
    Existed(RowRef<'a>),
}

impl<'a> RowRefInsertion<'a> {
    pub fn row_ref(&self) -> RowRef<'a> {
        match self {
            RowRefInsertion::Inserted(r) | RowRefInsertion::Existed(r) => *r,
        }
    }

    pub fn is_inserted(&self) -> bool {
        matches!(self, RowRefInsertion::Inserted(_))
    }
}

/// A transaction that writes. It reads a snapshot of the committed state
/// (an `Arc`, released before commit so that commit can write in place);
/// its changes stay in `tx_state` until `Locking::commit_mut_tx`.
pub struct MutTxId {
    pub(crate) tx_state: TxState,
    pub(crate) committed_state: Arc<CommittedState>,
    pub(crate) sequence_state: Arc<Mutex<SequencesState>>,
    pub workload: Workload,
    pub timer: Instant,
    pub metrics: ExecutionMetrics,
}

/// Inserts the BSATN row `row` into table `table_id` as part of the
/// transaction whose pending state is `tx_state`: decodes it, generates
/// auto_inc values when GENERATE (returned in the ColList; the caller writes
/// them back), checks set semantics and the unique indexes against the
/// committed rows this transaction still sees and against its own inserts.
#[inline(never)]
pub(super) fn insert<'a, const GENERATE: bool>(
    tx_state: &'a mut TxState,
    committed_state: &'a CommittedState,
    seq_state: &mut SequencesState,
    table_id: TableId,
    row: &[u8],
) -> Result<(ColList, RowRefInsertion<'a>, InsertFlags)> {
    let schema: Arc<TableSchema> = committed_state
        .schema_for_table(table_id)
        .ok_or(DatastoreError::Table(TableError::IdNotFound(table_id)))?;
    let mut value = bsatn::decode_product(&schema.row_type, row).map_err(DatastoreError::Decode)?;

    let mut generated = ColList::empty();
    if GENERATE {
        for seq in &schema.sequences {
            let slot = seq.col.0 as usize;
            if value.elements[slot].is_integer_zero() {
                let v = sequence::next_value(tx_state, committed_state, seq_state, seq.sequence_id)?;
                let ty = value.elements[slot].type_of();
                value.elements[slot] = AlgebraicValue::from_sequence_value(ty, v).ok_or(DatastoreError::Sequence(
                    crate::error::SequenceError::Overflow(seq.sequence_id),
                ))?;
                generated.push(seq.col);
            }
        }
    }
    let bytes: Vec<u8> = if generated.is_empty() { row.to_vec() } else { bsatn::to_vec(&value) };
    let flags = InsertFlags::default();

    // Against the committed rows this transaction has not deleted.
    if let Some(committed) = committed_state.get_table(table_id) {
        if let Some(existing) = committed.find_same_row(&bytes) {
            if tx_state.is_deleted(table_id, existing) {
                // Inserting a row this transaction deleted puts it back.
                if let Some(set) = tx_state.delete_tables.get_mut(&table_id) {
                    set.remove(&existing);
                }
            }
            let r = committed.get_row_ref(existing).expect("row found by its bytes");
            return Ok((generated, RowRefInsertion::Existed(r), flags));
        }
        if let Some((index, pointer)) = committed.find_index_conflict(&value) {
            if !tx_state.is_deleted(table_id, pointer) {
                let err = committed.violation(index, &value);
                return Err(DatastoreError::Index(IndexError::UniqueConstraintViolation(err)));
            }
        }
    }

    // Then into this transaction's own table for `table_id`.
    let TxState { insert_tables, blob_store, .. } = tx_state;
    let table = insert_tables.entry(table_id).or_insert_with(|| Table::new(schema.clone()));
    let pointer = match table.insert_physically_bsatn(committed_state.page_pool(), blob_store, &bytes) {
        Ok((r, _blob_bytes)) => r.pointer(),
        Err(InsertError::Decode(e)) => return Err(DatastoreError::Decode(e)),
        Err(e) => unreachable!("placing a row checks only its type: {e}"),
    };
    let table: &'a Table = match table.confirm_insertion(pointer) {
        Ok(_) => &*table,
        Err(InsertError::Duplicate(existing)) => {
            let table: &'a Table = &*table;
            let r = table.get_row_ref(existing).expect("duplicate row exists");
            return Ok((generated, RowRefInsertion::Existed(r), flags));
        }
        Err(InsertError::IndexError(v)) => {
            return Err(DatastoreError::Index(IndexError::UniqueConstraintViolation(v)));
        }
        Err(InsertError::Decode(e)) => return Err(DatastoreError::Decode(e)),
    };
    let r = table.get_row_ref(pointer).expect("row just inserted");
    Ok((generated, RowRefInsertion::Inserted(r), flags))
}

/// Deletes the visible row whose BSATN is `row` from table `table_id`:
/// from this transaction's inserts, or (recorded in `tx_state`) from the
/// committed rows. Whether there was such a row.
#[inline(never)]
pub(super) fn delete(tx_state: &mut TxState, committed_state: &CommittedState, table_id: TableId, row: &[u8]) -> Result<bool> {
    if committed_state.get_table(table_id).is_none() {
        return Err(DatastoreError::Table(TableError::IdNotFound(table_id)));
    }
    if let Some(t) = tx_state.insert_tables.get_mut(&table_id) {
        if let Some(p) = t.find_same_row(row) {
            t.delete(p);
            return Ok(true);
        }
    }
    if let Some(p) = committed_state.get_table(table_id).and_then(|t| t.find_same_row(row)) {
        if !tx_state.is_deleted(table_id, p) {
            tx_state.delete_tables.entry(table_id).or_default().insert(p);
            return Ok(true);
        }
    }
    Ok(false)
}

impl MutTxId {
    /// Inserts a BSATN row (see the free function `insert`).
    pub fn insert<const GENERATE: bool>(
        &mut self,
        table_id: TableId,
        row: &[u8],
    ) -> Result<(ColList, RowRefInsertion<'_>, InsertFlags)> {
        let mut seq = self.sequence_state.lock().unwrap_or_else(|e| e.into_inner());
        insert::<GENERATE>(&mut self.tx_state, &self.committed_state, &mut seq, table_id, row)
    }

    /// Inserts a row given as values (SQL INSERT, system rows).
    pub fn insert_via_serialize_bsatn(
        &mut self,
        table_id: TableId,
        row: &ProductValue,
    ) -> Result<(ColList, RowRefInsertion<'_>, InsertFlags)> {
        let bytes = bsatn::to_vec(row);
        self.insert::<true>(table_id, &bytes)
    }

    /// Deletes the visible row equal to `row`; whether there was one.
    pub fn delete_by_row_value(&mut self, table_id: TableId, row: &ProductValue) -> Result<bool> {
        let bytes = bsatn::to_vec(row);
        delete(&mut self.tx_state, &self.committed_state, table_id, &bytes)
    }

    pub fn committed_state(&self) -> &CommittedState {
        &self.committed_state
    }

    pub fn schema_for_table(&self, table_id: TableId) -> Option<Arc<TableSchema>> {
        self.committed_state.schema_for_table(table_id)
    }

    pub fn table_id_from_name(&self, name: &str) -> Option<TableId> {
        self.committed_state.table_id_from_name(name)
    }

    pub fn index_id_from_name(&self, name: &str) -> Option<IndexId> {
        self.committed_state.index_id_from_name(name)
    }

    /// The table id and schema that hold index `index_id`.
    pub fn table_for_index(&self, index_id: IndexId) -> Option<Arc<TableSchema>> {
        self.committed_state.table_for_index(index_id).map(|t| t.schema.clone())
    }

    /// The number of rows of `table_id` this transaction sees.
    pub fn table_row_count(&self, table_id: TableId) -> Option<u64> {
        let committed = self.committed_state.get_table(table_id)?;
        let deleted = self.tx_state.delete_tables.get(&table_id).map_or(0, |s| s.len() as u64);
        let inserted = self.tx_state.get_insert_table(table_id).map_or(0, |t| t.row_count());
        Some(committed.row_count() - deleted + inserted)
    }

    /// Every visible row of `table_id` as BSATN, committed rows first.
    pub fn scan_bsatn(&self, table_id: TableId) -> Result<Vec<Vec<u8>>> {
        let committed = self
            .committed_state
            .get_table(table_id)
            .ok_or(DatastoreError::Table(TableError::IdNotFound(table_id)))?;
        let mut rows: Vec<Vec<u8>> = committed
            .scan_rows()
            .filter(|r| !self.tx_state.is_deleted(table_id, r.pointer()))
            .map(|r| r.bsatn().to_vec())
            .collect();
        if let Some(t) = self.tx_state.get_insert_table(table_id) {
            rows.extend(t.scan_rows().map(|r| r.bsatn().to_vec()));
        }
        Ok(rows)
    }

    /// The visible rows of index `index_id` whose key is in the range, as BSATN.
    pub fn index_scan_range_bsatn(
        &self,
        table_id: TableId,
        index_id: IndexId,
        lo: std::ops::Bound<&AlgebraicValue>,
        hi: std::ops::Bound<&AlgebraicValue>,
    ) -> Result<Vec<Vec<u8>>> {
        let committed = self
            .committed_state
            .get_table(table_id)
            .ok_or(DatastoreError::Table(TableError::IdNotFound(table_id)))?;
        let mut rows: Vec<Vec<u8>> = committed
            .index_seek_range(index_id, lo, hi)
            .into_iter()
            .filter(|r| !self.tx_state.is_deleted(table_id, r.pointer()))
            .map(|r| r.bsatn().to_vec())
            .collect();
        if let Some(t) = self.tx_state.get_insert_table(table_id) {
            rows.extend(t.index_seek_range(index_id, lo, hi).into_iter().map(|r| r.bsatn().to_vec()));
        }
        Ok(rows)
    }
}

fn exec_err(e: DatastoreError) -> ExecError {
    ExecError(e.to_string().into())
}

/// Counts rows and bytes read for the metrics of a scan.
fn count_scan(rows: &[Vec<u8>], metrics: &mut ExecutionMetrics) {
    metrics.rows_scanned += rows.len() as u64;
    metrics.bytes_scanned += rows.iter().map(|r| r.len() as u64).sum::<u64>();
}

fn decode_rows(schema: &TableSchema, rows: Vec<Vec<u8>>) -> Vec<ProductValue> {
    rows.iter().filter_map(|r| bsatn::decode_product(&schema.row_type, r).ok()).collect()
}

impl Datastore for MutTxId {
    fn table_schema(&self, table_id: TableId) -> Option<Arc<TableSchema>> {
        self.schema_for_table(table_id)
    }

    fn table_scan(&self, table_id: TableId, metrics: &mut ExecutionMetrics) -> spacetimedb_execution::Result<Vec<ProductValue>> {
        let schema = self.schema_for_table(table_id).ok_or_else(|| exec_err(DatastoreError::Table(TableError::IdNotFound(table_id))))?;
        let rows = self.scan_bsatn(table_id).map_err(exec_err)?;
        count_scan(&rows, metrics);
        Ok(decode_rows(&schema, rows))
    }

    fn index_scan_point(
        &self,
        table_id: TableId,
        index_id: IndexId,
        key: &AlgebraicValue,
        metrics: &mut ExecutionMetrics,
    ) -> spacetimedb_execution::Result<Vec<ProductValue>> {
        let schema = self.schema_for_table(table_id).ok_or_else(|| exec_err(DatastoreError::Table(TableError::IdNotFound(table_id))))?;
        let b = std::ops::Bound::Included(key);
        let rows = self.index_scan_range_bsatn(table_id, index_id, b, b).map_err(exec_err)?;
        metrics.index_seeks += 1;
        count_scan(&rows, metrics);
        Ok(decode_rows(&schema, rows))
    }
}

impl MutDatastore for MutTxId {
    fn insert_product_value(&mut self, table_id: TableId, row: &ProductValue) -> spacetimedb_execution::Result<bool> {
        let inserted = self.insert_via_serialize_bsatn(table_id, row).map_err(exec_err)?.1.is_inserted();
        if inserted {
            self.metrics.rows_inserted += 1;
        }
        Ok(inserted)
    }

    fn delete_product_value(&mut self, table_id: TableId, row: &ProductValue) -> spacetimedb_execution::Result<bool> {
        let deleted = self.delete_by_row_value(table_id, row).map_err(exec_err)?;
        if deleted {
            self.metrics.rows_deleted += 1;
        }
        Ok(deleted)
    }
}
