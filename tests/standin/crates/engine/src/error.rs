// SPDX-License-Identifier: MIT
//! `DBError`: what the database layer reports to its callers.

use spacetimedb_datastore::error::DatastoreError;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DBError {
    Datastore(DatastoreError),
    /// A SQL statement that does not compile or fails to run.
    Sql { sql: Box<str>, error: Box<str> },
    Other(Box<str>),
}

impl fmt::Display for DBError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DBError::Datastore(e) => e.fmt(f),
            DBError::Sql { sql, error } => write!(f, "{error}, executing: `{sql}`"),
            DBError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for DBError {}

impl From<DatastoreError> for DBError {
    fn from(e: DatastoreError) -> Self {
        DBError::Datastore(e)
    }
}
