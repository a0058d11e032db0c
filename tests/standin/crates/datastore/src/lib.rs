// SPDX-License-Identifier: MIT
//! spacetimedb_datastore (stand-in): transactions over in-memory tables.
//! `locking_tx_datastore::mut_tx::insert::<GENERATE>` is where every row
//! insert lands (module inserts, SQL INSERT, and with GENERATE = false the
//! `st_sequence` updates), as in SpacetimeDB 1.3 and later.
//!
//! Threading: a database's transactions all run on its one executor thread
//! (spacetimedb::util::jobs), which serializes writers the way SpacetimeDB's
//! write lock does. Other threads only read committed state under the lock.

pub mod db_metrics;
pub mod error;
pub mod execution_context;
pub mod locking_tx_datastore;
pub mod system_tables;
pub mod traits;
