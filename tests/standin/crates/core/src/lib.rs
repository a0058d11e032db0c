// SPDX-License-Identifier: MIT
//! spacetimedb (stand-in for SpacetimeDB's core crate, `crates/core`): the
//! module host (reducers standing in for WASM), the host ABI's
//! `InstanceEnv`, SQL execution, subscription evaluation and the
//! per-database executor thread.
//!
//! Every function the tracer's SpacetimeDB pack hooks keeps SpacetimeDB's
//! path, signature and ABI shape; where the stand-in's body is small enough
//! that thin LTO would inline it (SpacetimeDB's are large), it carries
//! #[inline(never)] with a comment. tests/standin/README.md lists them
//! with the registers each argument arrives in.

pub mod database_logger;
pub mod db;
pub mod energy;
pub mod error;
pub mod host;
pub mod identity;
pub mod replica_context;
pub mod sql;
pub mod subscription;
pub mod util;
pub mod worker_metrics;
