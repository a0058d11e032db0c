// SPDX-License-Identifier: MIT
//! `NodesError`, what host (ABI) calls fail with, and `DBError`.
//!
//! NodesError is deliberately as large as SpacetimeDB's (its variants hold
//! decode errors and constraint violations), so `Result<usize, NodesError>`
//! is returned through a hidden pointer (RDI on x86-64), which shifts
//! `&self` to RSI: the shape the tracer's pack assumes.

pub use spacetimedb_engine::error::DBError;
use spacetimedb_datastore::error::{DatastoreError, IndexError, TableError};
use spacetimedb_sats::bsatn::DecodeError;
use spacetimedb_table::table::UniqueConstraintViolation;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodesError {
    NotInTransaction,
    DecodeRow(DecodeError),
    DecodeValue(DecodeError),
    TableNotFound,
    IndexNotFound,
    /// A range scan over more columns than the index has.
    BadIndexType(u16),
    AlreadyExists(UniqueConstraintViolation),
    Internal(Box<DBError>),
}

impl fmt::Display for NodesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodesError::NotInTransaction => f.write_str("not in a transaction"),
            NodesError::DecodeRow(e) => write!(f, "row does not decode: {e}"),
            NodesError::DecodeValue(e) => write!(f, "value does not decode: {e}"),
            NodesError::TableNotFound => f.write_str("table not found"),
            NodesError::IndexNotFound => f.write_str("index not found"),
            NodesError::BadIndexType(n) => write!(f, "the index has no {n} prefix columns"),
            NodesError::AlreadyExists(v) => v.fmt(f),
            NodesError::Internal(e) => write!(f, "internal: {e}"),
        }
    }
}

impl std::error::Error for NodesError {}

impl From<DBError> for NodesError {
    fn from(e: DBError) -> Self {
        match e {
            DBError::Datastore(DatastoreError::Table(TableError::IdNotFound(_))) => NodesError::TableNotFound,
            DBError::Datastore(DatastoreError::Table(TableError::NotFound(_))) => NodesError::TableNotFound,
            DBError::Datastore(DatastoreError::Index(IndexError::UniqueConstraintViolation(v))) => {
                NodesError::AlreadyExists(v)
            }
            DBError::Datastore(DatastoreError::Index(IndexError::NotFound(_))) => NodesError::IndexNotFound,
            DBError::Datastore(DatastoreError::Decode(d)) => NodesError::DecodeRow(d),
            other => NodesError::Internal(Box::new(other)),
        }
    }
}

impl From<DatastoreError> for NodesError {
    fn from(e: DatastoreError) -> Self {
        NodesError::from(DBError::Datastore(e))
    }
}
