// SPDX-License-Identifier: MIT
//! The module host: databases' modules, their instances and the ABI they
//! call. Shared value types of reducer calls live here.

pub mod host_controller;
pub mod instance_env;
pub mod module_def;
pub mod module_host;
pub mod wasm_common;
pub mod wasmtime;

pub use module_host::ModuleHost;

use crate::energy::FunctionBudget;
use spacetimedb_sats::json::{self, JsonValue};
use spacetimedb_sats::{bsatn, ProductType, ProductValue};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0))
    }
}

/// A reducer's arguments, as BSATN of its parameter product.
#[derive(Clone, Debug, Default)]
pub struct ArgsTuple {
    bsatn: Vec<u8>,
}

impl ArgsTuple {
    pub fn nullary() -> Self {
        ArgsTuple { bsatn: Vec::new() }
    }

    pub fn from_product(v: &ProductValue) -> Self {
        ArgsTuple { bsatn: bsatn::to_vec(v) }
    }

    pub fn get_bsatn(&self) -> &[u8] {
        &self.bsatn
    }
}

/// Arguments as the caller sent them.
#[derive(Clone, Debug)]
pub enum FunctionArgs {
    /// A JSON array, one element per parameter.
    Json(Vec<u8>),
    Bsatn(Vec<u8>),
}

impl FunctionArgs {
    /// The arguments typed by the reducer's parameters, or why they are not.
    pub fn into_tuple(self, params: &ProductType) -> Result<ArgsTuple, String> {
        match self {
            FunctionArgs::Bsatn(b) => {
                bsatn::decode_product(params, &b).map_err(|e| e.to_string())?;
                Ok(ArgsTuple { bsatn: b })
            }
            FunctionArgs::Json(text) => {
                let v = json::parse(&text).map_err(|e| e.to_string())?;
                let items = match v {
                    JsonValue::Array(items) => items,
                    _ => return Err("the arguments must be a JSON array".to_string()),
                };
                if items.len() != params.elements.len() {
                    return Err(format!("expected {} arguments, got {}", params.elements.len(), items.len()));
                }
                let mut elements = Vec::with_capacity(items.len());
                for (i, (item, param)) in items.iter().zip(&params.elements).enumerate() {
                    let name = param.name.as_deref().unwrap_or("?");
                    let v = json::to_algebraic(item, param.algebraic_type).map_err(|e| format!("argument {i} ({name}): {e}"))?;
                    elements.push(v);
                }
                Ok(ArgsTuple::from_product(&ProductValue::new(elements)))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReducerOutcome {
    Committed,
    Failed(Box<str>),
    BudgetExceeded,
}

#[derive(Clone, Debug)]
pub struct ReducerCallResult {
    pub outcome: ReducerOutcome,
    pub energy_used: FunctionBudget,
    pub execution_duration: Duration,
}

/// Why a reducer call did not reach the reducer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReducerCallError {
    Args(String),
    NoSuchModule,
    NoSuchReducer,
}

impl std::fmt::Display for ReducerCallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReducerCallError::Args(e) => write!(f, "invalid arguments for reducer: {e}"),
            ReducerCallError::NoSuchModule => f.write_str("no such module"),
            ReducerCallError::NoSuchReducer => f.write_str("no such reducer"),
        }
    }
}
