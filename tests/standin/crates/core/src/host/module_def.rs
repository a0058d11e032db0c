// SPDX-License-Identifier: MIT
//! What a module declares (SpacetimeDB reads it from `__describe_module__`):
//! its tables and its reducers. Reducers here are native functions standing
//! in for WASM exports; they reach the database only through the ABI
//! (`WasmInstanceEnv`).

use crate::host::wasmtime::wasm_instance_env::WasmInstanceEnv;
use spacetimedb_primitives::ReducerId;
use spacetimedb_sats::{AlgebraicType, ProductType};

/// A reducer body: BSATN arguments in, `Err(message)` for a user error.
/// A panic stands for a WASM trap.
pub type ReducerFn = fn(&mut WasmInstanceEnv, &[u8]) -> Result<(), Box<str>>;

pub struct ReducerDef {
    pub name: Box<str>,
    pub params: ProductType,
    pub func: ReducerFn,
}

pub struct TableDef {
    pub name: Box<str>,
    pub columns: Vec<(Box<str>, AlgebraicType)>,
    /// The primary key column (a unique index `<table>_<col>_idx_btree`).
    pub primary_key: Option<u16>,
    /// An auto_inc column (generated when inserted as 0).
    pub auto_inc: Option<u16>,
}

pub struct ModuleDef {
    pub tables: Vec<TableDef>,
    pub reducers: Vec<ReducerDef>,
}

impl ModuleDef {
    pub fn reducer_by_name(&self, name: &str) -> Option<(ReducerId, &ReducerDef)> {
        self.reducers.iter().position(|r| &*r.name == name).map(|i| (ReducerId(i as u32), &self.reducers[i]))
    }

    pub fn reducer_by_id(&self, id: ReducerId) -> &ReducerDef {
        &self.reducers[id.0 as usize]
    }
}
