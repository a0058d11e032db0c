// SPDX-License-Identifier: MIT
//! spacetimedb_engine (stand-in): `RelationalDB`, one database over its
//! datastore (SpacetimeDB 2.7 moved it here from `spacetimedb::db`).

pub mod error;
pub mod relational_db;
