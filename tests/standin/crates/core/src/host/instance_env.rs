// SPDX-License-Identifier: MIT
//! `InstanceEnv`: what a module instance's ABI calls do to the database,
//! inside the transaction of the reducer being run (held in the `TxSlot`).
//! Called on the database's executor thread only.
//!
//! The hooked functions keep SpacetimeDB's signatures. Each returns a
//! `Result<_, NodesError>`, which is larger than 16 bytes, so on x86-64 the
//! caller passes a hidden return pointer in RDI and `&self` arrives in RSI.
//! They are #[inline(never)]: SpacetimeDB's have three callers (wasmtime,
//! JS v1, JS v2) and stay symbols; the stand-in's have one caller each and
//! would be inlined into the ABI shims under thin LTO.

use crate::database_logger::LogLevel;
use crate::error::NodesError;
use crate::replica_context::ReplicaContext;
use spacetimedb_datastore::locking_tx_datastore::MutTxId;
use spacetimedb_primitives::{ColId, IndexId, TableId};
use spacetimedb_sats::{bsatn, AlgebraicType, AlgebraicValue};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the running reducer's transaction is kept while the module runs.
#[derive(Clone, Default)]
pub struct TxSlot {
    inner: Arc<Mutex<Option<MutTxId>>>,
}

impl TxSlot {
    /// Runs `f` with `tx` in the slot, then takes it back out.
    pub fn set<T>(&mut self, tx: MutTxId, f: impl FnOnce() -> T) -> (MutTxId, T) {
        *self.lock() = Some(tx);
        let res = f();
        let tx = self.lock().take().expect("the transaction stays in the slot while the reducer runs");
        (tx, res)
    }

    fn lock(&self) -> MutexGuard<'_, Option<MutTxId>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Chunks that scans pack rows into, reused between calls.
#[derive(Debug, Default)]
pub struct ChunkPool {
    free: Vec<Vec<u8>>,
}

/// A chunk is closed once the next row would take it past this many bytes
/// (a bigger row gets a chunk of its own). The stand-in's choice.
pub const CHUNK_SIZE: usize = 4096;

impl ChunkPool {
    fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK_SIZE))
    }

    /// Gives chunks back once their rows are read.
    pub fn put(&mut self, chunks: Vec<Vec<u8>>) {
        for mut c in chunks {
            c.clear();
            self.free.push(c);
        }
    }

    /// Packs BSATN rows back to back into chunks of at most CHUNK_SIZE bytes.
    fn pack(&mut self, rows: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let mut chunks = Vec::new();
        let mut current = self.take();
        for row in rows {
            if !current.is_empty() && current.len() + row.len() > CHUNK_SIZE {
                chunks.push(std::mem::replace(&mut current, self.take()));
            }
            current.extend_from_slice(&row);
        }
        if !current.is_empty() {
            chunks.push(current);
        } else {
            self.free.push(current);
        }
        chunks
    }
}

pub struct InstanceEnv {
    pub replica_ctx: Arc<ReplicaContext>,
    pub tx: TxSlot,
}

impl InstanceEnv {
    pub fn new(replica_ctx: Arc<ReplicaContext>) -> Self {
        InstanceEnv { replica_ctx, tx: TxSlot::default() }
    }

    fn get_tx(&self) -> Result<MutexGuard<'_, Option<MutTxId>>, NodesError> {
        let guard = self.tx.lock();
        if guard.is_none() {
            return Err(NodesError::NotInTransaction);
        }
        Ok(guard)
    }

    /// Inserts the BSATN row in `buffer` into table `table_id`. Generated
    /// auto_inc values are written back into `buffer` (same width, so the
    /// row keeps its length). Returns the number of rows the table holds in
    /// this transaction after the insert (SpacetimeDB returns the length of
    /// the generated columns it wrote back; the stand-in's choice is a
    /// count that tests can check).
    #[inline(never)]
    pub fn insert(&self, table_id: TableId, buffer: &mut [u8]) -> Result<usize, NodesError> {
        let stdb = &*self.replica_ctx.relational_db;
        let mut guard = self.get_tx()?;
        let tx = guard.as_mut().ok_or(NodesError::NotInTransaction)?;
        let (generated, row_ref, _flags) = stdb.insert(tx, table_id, buffer)?;
        if !generated.is_empty() {
            let row = row_ref.row_ref().bsatn();
            if row.len() == buffer.len() {
                buffer.copy_from_slice(row);
            }
        }
        let count = tx.table_row_count(table_id).ok_or(NodesError::TableNotFound)?;
        Ok(count as usize)
    }

    /// Every row of table `table_id` the transaction sees, as BSATN packed
    /// into chunks.
    #[inline(never)]
    pub fn datastore_table_scan_bsatn_chunks(
        &self,
        pool: &mut ChunkPool,
        table_id: TableId,
    ) -> Result<Vec<Vec<u8>>, NodesError> {
        let guard = self.get_tx()?;
        let tx = guard.as_ref().ok_or(NodesError::NotInTransaction)?;
        let rows = tx.scan_bsatn(table_id)?;
        Ok(pool.pack(rows))
    }

    fn index_key_type(tx: &MutTxId, index_id: IndexId) -> Result<(TableId, AlgebraicType), NodesError> {
        let schema = tx.table_for_index(index_id).ok_or(NodesError::IndexNotFound)?;
        let ix = schema.indexes.iter().find(|ix| ix.index_id == index_id).ok_or(NodesError::IndexNotFound)?;
        Ok((schema.table_id, schema.row_type.elements[ix.col.0 as usize].algebraic_type))
    }

    /// The rows whose key in index `index_id` equals the BSATN value `point`.
    #[inline(never)]
    pub fn datastore_index_scan_point_bsatn_chunks(
        &self,
        pool: &mut ChunkPool,
        index_id: IndexId,
        point: &[u8],
    ) -> Result<Vec<Vec<u8>>, NodesError> {
        let guard = self.get_tx()?;
        let tx = guard.as_ref().ok_or(NodesError::NotInTransaction)?;
        let (table_id, key_type) = Self::index_key_type(tx, index_id)?;
        let key = decode_key(key_type, point)?;
        let rows = tx.index_scan_range_bsatn(table_id, index_id, Bound::Included(&key), Bound::Included(&key))?;
        Ok(pool.pack(rows))
    }

    /// The rows whose key in index `index_id` is within the BSATN bounds
    /// `rstart` and `rend` (each a tag byte, 0 included / 1 excluded /
    /// 2 unbounded, then the value). Every index here has one column, so the
    /// prefix must be empty (`prefix_elems` 0).
    #[inline(never)]
    pub fn datastore_index_scan_range_bsatn_chunks(
        &self,
        pool: &mut ChunkPool,
        index_id: IndexId,
        prefix: &[u8],
        prefix_elems: ColId,
        rstart: &[u8],
        rend: &[u8],
    ) -> Result<Vec<Vec<u8>>, NodesError> {
        if prefix_elems.0 != 0 || !prefix.is_empty() {
            return Err(NodesError::BadIndexType(prefix_elems.0));
        }
        let guard = self.get_tx()?;
        let tx = guard.as_ref().ok_or(NodesError::NotInTransaction)?;
        let (table_id, key_type) = Self::index_key_type(tx, index_id)?;
        let lo = decode_bound(key_type, rstart)?;
        let hi = decode_bound(key_type, rend)?;
        let rows = tx.index_scan_range_bsatn(table_id, index_id, as_ref_bound(&lo), as_ref_bound(&hi))?;
        Ok(pool.pack(rows))
    }

    pub fn table_id_from_name(&self, table_name: &str) -> Result<TableId, NodesError> {
        let guard = self.get_tx()?;
        let tx = guard.as_ref().ok_or(NodesError::NotInTransaction)?;
        tx.table_id_from_name(table_name).ok_or(NodesError::TableNotFound)
    }

    pub fn index_id_from_name(&self, index_name: &str) -> Result<IndexId, NodesError> {
        let guard = self.get_tx()?;
        let tx = guard.as_ref().ok_or(NodesError::NotInTransaction)?;
        tx.index_id_from_name(index_name).ok_or(NodesError::IndexNotFound)
    }

    pub fn datastore_table_row_count(&self, table_id: TableId) -> Result<u64, NodesError> {
        let guard = self.get_tx()?;
        let tx = guard.as_ref().ok_or(NodesError::NotInTransaction)?;
        tx.table_row_count(table_id).ok_or(NodesError::TableNotFound)
    }

    pub fn console_log(&self, level: LogLevel, target: Option<&str>, message: &str) {
        self.replica_ctx.logger.write(level, target, message)
    }
}

fn decode_key(ty: AlgebraicType, bytes: &[u8]) -> Result<AlgebraicValue, NodesError> {
    let mut buf = bytes;
    let v = bsatn::decode_value(ty, &mut buf).map_err(NodesError::DecodeValue)?;
    if !buf.is_empty() {
        return Err(NodesError::DecodeValue(bsatn::DecodeError::TrailingBytes(buf.len())));
    }
    Ok(v)
}

fn decode_bound(ty: AlgebraicType, bytes: &[u8]) -> Result<Bound<AlgebraicValue>, NodesError> {
    match bytes.split_first() {
        Some((0, rest)) => Ok(Bound::Included(decode_key(ty, rest)?)),
        Some((1, rest)) => Ok(Bound::Excluded(decode_key(ty, rest)?)),
        Some((2, [])) => Ok(Bound::Unbounded),
        Some((2, rest)) => Err(NodesError::DecodeValue(bsatn::DecodeError::TrailingBytes(rest.len()))),
        Some((tag, _)) => Err(NodesError::DecodeValue(bsatn::DecodeError::InvalidTag { for_type: "Bound", tag: *tag })),
        None => Err(NodesError::DecodeValue(bsatn::DecodeError::BufferLength { for_type: "bound", expected: 1, given: 0 })),
    }
}

fn as_ref_bound(b: &Bound<AlgebraicValue>) -> Bound<&AlgebraicValue> {
    match b {
        Bound::Included(v) => Bound::Included(v),
        Bound::Excluded(v) => Bound::Excluded(v),
        Bound::Unbounded => Bound::Unbounded,
    }
}
