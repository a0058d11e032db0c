// SPDX-License-Identifier: MIT
//! What every module host type (wasmtime, V8 in SpacetimeDB) shares.

pub mod module_host_actor;
