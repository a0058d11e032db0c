// SPDX-License-Identifier: MIT
//! spacetimedb_table (stand-in): one in-memory table. Rows are kept as their
//! BSATN bytes, keyed by a row pointer; each index is a unique B-tree over
//! one column. Not thread-safe by itself: the datastore owns tables behind
//! its locks.

pub mod table;
