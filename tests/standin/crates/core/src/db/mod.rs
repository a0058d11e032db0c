// SPDX-License-Identifier: MIT
//! `spacetimedb::db` re-exports the engine, as SpacetimeDB 2.7+ does.

pub use spacetimedb_engine::relational_db;
pub use spacetimedb_engine::relational_db::RelationalDB;
