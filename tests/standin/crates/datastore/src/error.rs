// SPDX-License-Identifier: MIT
//! The datastore's errors (SpacetimeDB's `DatastoreError` and its parts).

use spacetimedb_primitives::{SequenceId, TableId};
use spacetimedb_sats::bsatn::DecodeError;
use spacetimedb_table::table::UniqueConstraintViolation;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    IdNotFound(TableId),
    NotFound(Box<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    UniqueConstraintViolation(UniqueConstraintViolation),
    NotFound(Box<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceError {
    NotFound(SequenceId),
    /// The next value does not fit the column's type.
    Overflow(SequenceId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatastoreError {
    Table(TableError),
    Index(IndexError),
    Sequence(SequenceError),
    Decode(DecodeError),
}

impl fmt::Display for DatastoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatastoreError::Table(TableError::IdNotFound(id)) => write!(f, "Table with ID `{id}` not found"),
            DatastoreError::Table(TableError::NotFound(name)) => write!(f, "Table `{name}` not found"),
            DatastoreError::Index(IndexError::UniqueConstraintViolation(v)) => v.fmt(f),
            DatastoreError::Index(IndexError::NotFound(name)) => write!(f, "Index `{name}` not found"),
            DatastoreError::Sequence(SequenceError::NotFound(id)) => write!(f, "Sequence `{id}` not found"),
            DatastoreError::Sequence(SequenceError::Overflow(id)) => write!(f, "Sequence `{id}` overflowed"),
            DatastoreError::Decode(e) => write!(f, "row does not decode: {e}"),
        }
    }
}

impl std::error::Error for DatastoreError {}

pub type Result<T> = std::result::Result<T, DatastoreError>;
