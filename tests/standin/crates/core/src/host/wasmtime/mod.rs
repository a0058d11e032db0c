// SPDX-License-Identifier: MIT
//! The "wasmtime" module host. The stand-in runs native reducer functions
//! in place of compiled WASM, behind the same host types and ABI.

pub mod wasm_instance_env;
pub mod wasmtime_module;

use crate::identity::Identity;

/// The name of a database's executor thread: `wasm-` and the last 10 hex
/// digits of its identity (15 bytes, the kernel's limit for thread names).
pub fn wasm_worker_thread_name(database_identity: &Identity) -> String {
    let hex = database_identity.to_hex();
    format!("wasm-{}", &hex[hex.len() - 10..])
}
