// SPDX-License-Identifier: MIT
//! `Table`: rows, their unique indexes and set semantics (inserting a row
//! identical to an existing one is not an error and adds nothing), as in
//! SpacetimeDB. Insertion is two steps like SpacetimeDB's: the row is placed
//! (`insert_physically_bsatn`), then checked against the indexes
//! (`confirm_insertion`), which removes it again when a check fails.

use spacetimedb_primitives::{ColId, IndexId, SequenceId, TableId};
use spacetimedb_sats::bsatn::{self, DecodeError};
use spacetimedb_sats::{AlgebraicValue, ProductType, ProductValue};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

/// A unique B-tree index over one column.
#[derive(Clone, Debug)]
pub struct IndexSchema {
    pub index_id: IndexId,
    pub index_name: Box<str>,
    pub col: ColId,
}

/// An auto_inc column and the sequence that generates it.
#[derive(Clone, Debug)]
pub struct SequenceSchema {
    pub sequence_id: SequenceId,
    pub col: ColId,
}

/// What a table is: its id, name, columns and indexes.
#[derive(Clone, Debug)]
pub struct TableSchema {
    pub table_id: TableId,
    pub table_name: Box<str>,
    pub row_type: ProductType,
    pub primary_key: Option<ColId>,
    pub indexes: Vec<IndexSchema>,
    pub sequences: Vec<SequenceSchema>,
}

impl TableSchema {
    pub fn column_name(&self, col: ColId) -> &str {
        self.row_type
            .elements
            .get(col.0 as usize)
            .and_then(|e| e.name.as_deref())
            .unwrap_or("?")
    }

    /// The position of the column named `name` (ASCII case-insensitive, as
    /// the stand-in's SQL compares identifiers).
    pub fn col_by_name(&self, name: &str) -> Option<ColId> {
        self.row_type
            .elements
            .iter()
            .position(|e| e.name.as_deref().map_or(false, |n| n.eq_ignore_ascii_case(name)))
            .map(|i| ColId(i as u16))
    }

    pub fn index_on(&self, col: ColId) -> Option<&IndexSchema> {
        self.indexes.iter().find(|ix| ix.col == col)
    }
}

/// A row's place in its table. Stable until the row is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowPointer(pub u64);

/// Bytes of a row's strings that SpacetimeDB would keep in the blob store
/// (var-len values over one "granule" budget).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BlobNumBytes(pub u64);

/// Strings longer than this count as blob bytes.
const BLOB_THRESHOLD: usize = 1024;

/// The page allocator SpacetimeDB shares between tables. Here only a count
/// of the rows placed through it.
#[derive(Debug, Default)]
pub struct PagePool {
    rows_placed: std::sync::atomic::AtomicU64,
}

impl PagePool {
    pub fn rows_placed(&self) -> u64 {
        self.rows_placed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Where large var-len values live. Here only their byte count is kept.
pub trait BlobStore {
    fn add_blob_bytes(&mut self, n: u64);
    fn bytes_used(&self) -> u64;
}

/// A blob store that only counts bytes.
#[derive(Debug, Default)]
pub struct HashMapBlobStore {
    bytes: u64,
}

impl BlobStore for HashMapBlobStore {
    fn add_blob_bytes(&mut self, n: u64) {
        self.bytes += n;
    }

    fn bytes_used(&self) -> u64 {
        self.bytes
    }
}

/// A unique index rejected a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UniqueConstraintViolation {
    pub constraint_name: Box<str>,
    pub table_name: Box<str>,
    pub cols: Vec<Box<str>>,
    pub value: AlgebraicValue,
}

impl fmt::Display for UniqueConstraintViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Duplicate insertion of value ({}: {}) for unique constraint {} on table {}",
            self.cols.join(", "),
            self.value,
            self.constraint_name,
            self.table_name
        )
    }
}

/// Why a row did not go in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// The same bytes are already a row (set semantics): not an error to
    /// callers, who report the existing row.
    Duplicate(RowPointer),
    /// A unique index already has the row's key.
    IndexError(UniqueConstraintViolation),
    /// The bytes are not a row of the table's type.
    Decode(DecodeError),
}

impl fmt::Display for InsertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsertError::Duplicate(p) => write!(f, "duplicate row at {}", p.0),
            InsertError::IndexError(e) => e.fmt(f),
            InsertError::Decode(e) => write!(f, "row does not decode: {e}"),
        }
    }
}

/// The rows of one table (committed ones, or one transaction's inserts).
#[derive(Clone, Debug)]
pub struct Table {
    pub schema: Arc<TableSchema>,
    rows: BTreeMap<RowPointer, Box<[u8]>>,
    /// Every row's bytes, for set semantics.
    by_bytes: BTreeMap<Box<[u8]>, RowPointer>,
    /// One map per `schema.indexes` entry, same order.
    indexes: Vec<BTreeMap<AlgebraicValue, RowPointer>>,
    next_pointer: u64,
}

/// A borrowed row of a table.
#[derive(Clone, Copy, Debug)]
pub struct RowRef<'a> {
    table: &'a Table,
    pointer: RowPointer,
}

impl<'a> RowRef<'a> {
    pub fn pointer(&self) -> RowPointer {
        self.pointer
    }

    pub fn bsatn(&self) -> &'a [u8] {
        self.table.rows.get(&self.pointer).map(|b| &b[..]).unwrap_or(&[])
    }

    pub fn to_product_value(&self) -> ProductValue {
        self.table.decode(self.bsatn())
    }
}

impl Table {
    pub fn new(schema: Arc<TableSchema>) -> Self {
        let indexes = schema.indexes.iter().map(|_| BTreeMap::new()).collect();
        Table { schema, rows: BTreeMap::new(), by_bytes: BTreeMap::new(), indexes, next_pointer: 1 }
    }

    /// Decodes bytes this table accepted (they decoded when placed).
    fn decode(&self, bytes: &[u8]) -> ProductValue {
        bsatn::decode_product(&self.schema.row_type, bytes).unwrap_or_else(|_| ProductValue::new(Vec::new()))
    }

    pub fn row_count(&self) -> u64 {
        self.rows.len() as u64
    }

    pub fn get_row_ref(&self, pointer: RowPointer) -> Option<RowRef<'_>> {
        self.rows.get(&pointer).map(|_| RowRef { table: self, pointer })
    }

    /// Every row, in insertion order.
    pub fn scan_rows(&self) -> impl Iterator<Item = RowRef<'_>> + '_ {
        self.rows.keys().map(move |&pointer| RowRef { table: self, pointer })
    }

    /// The row whose bytes are exactly `bytes`, if any.
    pub fn find_same_row(&self, bytes: &[u8]) -> Option<RowPointer> {
        self.by_bytes.get(bytes).copied()
    }

    fn index_pos(&self, index_id: IndexId) -> Option<usize> {
        self.schema.indexes.iter().position(|ix| ix.index_id == index_id)
    }

    /// The row with key `key` in index `index_id`.
    pub fn index_seek_point(&self, index_id: IndexId, key: &AlgebraicValue) -> Option<RowRef<'_>> {
        let pos = self.index_pos(index_id)?;
        self.indexes[pos].get(key).and_then(|&p| self.get_row_ref(p))
    }

    /// The rows whose key in index `index_id` is in the range, in key order.
    pub fn index_seek_range(
        &self,
        index_id: IndexId,
        lo: Bound<&AlgebraicValue>,
        hi: Bound<&AlgebraicValue>,
    ) -> Vec<RowRef<'_>> {
        let pos = match self.index_pos(index_id) {
            Some(pos) => pos,
            None => return Vec::new(),
        };
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) = (lo, hi) {
            // BTreeMap::range panics on an inverted range; it is empty.
            if a > b || (a == b && !(matches!(lo, Bound::Included(_)) && matches!(hi, Bound::Included(_)))) {
                return Vec::new();
            }
        }
        self.indexes[pos]
            .range::<AlgebraicValue, _>((lo, hi))
            .filter_map(|(_, &p)| self.get_row_ref(p))
            .collect()
    }

    /// The row in this table that holds `row`'s key in a unique index, if
    /// any, with that index.
    pub fn find_index_conflict(&self, row: &ProductValue) -> Option<(&IndexSchema, RowPointer)> {
        for (schema, map) in self.schema.indexes.iter().zip(&self.indexes) {
            if let Some(key) = row.elements.get(schema.col.0 as usize) {
                if let Some(&p) = map.get(key) {
                    return Some((schema, p));
                }
            }
        }
        None
    }

    pub fn violation(&self, index: &IndexSchema, row: &ProductValue) -> UniqueConstraintViolation {
        UniqueConstraintViolation {
            constraint_name: format!("{}_{}_key", self.schema.table_name, self.schema.column_name(index.col)).into(),
            table_name: self.schema.table_name.clone(),
            cols: vec![self.schema.column_name(index.col).into()],
            value: row.elements[index.col.0 as usize].clone(),
        }
    }

    /// Places `row` (BSATN) in the table without checking indexes or set
    /// semantics; `confirm_insertion` must follow. Fails only when the bytes
    /// are not a row of the table's type.
    pub fn insert_physically_bsatn<'a>(
        &'a mut self,
        pool: &PagePool,
        blob_store: &'a mut dyn BlobStore,
        row: &[u8],
    ) -> Result<(RowRef<'a>, BlobNumBytes), InsertError> {
        let value = bsatn::decode_product(&self.schema.row_type, row).map_err(InsertError::Decode)?;
        let blob_bytes: u64 = value
            .elements
            .iter()
            .map(|v| match v {
                AlgebraicValue::String(s) if s.len() > BLOB_THRESHOLD => s.len() as u64,
                _ => 0,
            })
            .sum();
        blob_store.add_blob_bytes(blob_bytes);
        pool.rows_placed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pointer = RowPointer(self.next_pointer);
        self.next_pointer += 1;
        self.rows.insert(pointer, row.into());
        Ok((RowRef { table: self, pointer }, BlobNumBytes(blob_bytes)))
    }

    /// Checks the placed row at `pointer` against set semantics and the
    /// unique indexes; indexes it when both pass, removes it otherwise.
    pub fn confirm_insertion(&mut self, pointer: RowPointer) -> Result<RowPointer, InsertError> {
        let bytes = match self.rows.get(&pointer) {
            Some(b) => b.clone(),
            None => return Ok(pointer),
        };
        if let Some(&existing) = self.by_bytes.get(&bytes) {
            self.rows.remove(&pointer);
            return Err(InsertError::Duplicate(existing));
        }
        let value = self.decode(&bytes);
        if let Some((index, _)) = self.find_index_conflict(&value) {
            let err = self.violation(index, &value);
            self.rows.remove(&pointer);
            return Err(InsertError::IndexError(err));
        }
        for (schema, map) in self.schema.indexes.iter().zip(self.indexes.iter_mut()) {
            map.insert(value.elements[schema.col.0 as usize].clone(), pointer);
        }
        self.by_bytes.insert(bytes, pointer);
        Ok(pointer)
    }

    /// Removes the row at `pointer`; its bytes, or None if there was none.
    pub fn delete(&mut self, pointer: RowPointer) -> Option<Box<[u8]>> {
        let bytes = self.rows.remove(&pointer)?;
        let value = self.decode(&bytes);
        for (schema, map) in self.schema.indexes.iter().zip(self.indexes.iter_mut()) {
            map.remove(&value.elements[schema.col.0 as usize]);
        }
        self.by_bytes.remove(&bytes);
        Some(bytes)
    }

    /// Inserts bytes that were already checked (committing a transaction):
    /// places and indexes them. The same checks run; a failure means the
    /// transaction's checks missed a conflict, and the row is dropped.
    pub fn insert_checked(&mut self, pool: &PagePool, blob_store: &mut dyn BlobStore, row: &[u8]) -> Option<RowPointer> {
        let pointer = match self.insert_physically_bsatn(pool, blob_store, row) {
            Ok((r, _)) => r.pointer(),
            Err(_) => return None,
        };
        self.confirm_insertion(pointer).ok()
    }
}
