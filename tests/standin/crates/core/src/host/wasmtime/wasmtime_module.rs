// SPDX-License-Identifier: MIT
//! `WasmtimeModule` (a module's definition, compiled once) and
//! `WasmtimeInstance` (one instance of it, with its store). Calls run on
//! the database's executor thread.

use crate::database_logger::LogLevel;
use crate::energy::FunctionBudget;
use crate::host::instance_env::{InstanceEnv, TxSlot};
use crate::host::module_def::{ModuleDef, ReducerFn};
use crate::host::wasm_common::module_host_actor::{
    EnergyStats, ExecutionError, ExecutionResult, ExecutionStats, ExecutionTimings, ReducerExecuteResult, ReducerOp,
    Trap, WasmInstance,
};
use crate::host::wasmtime::wasm_instance_env::WasmInstanceEnv;
use crate::replica_context::ReplicaContext;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

pub struct WasmtimeModule {
    module: Arc<ModuleDef>,
}

impl WasmtimeModule {
    pub fn new(module: Arc<ModuleDef>) -> Self {
        WasmtimeModule { module }
    }

    pub fn def(&self) -> &Arc<ModuleDef> {
        &self.module
    }

    pub fn instantiate(&self, env: InstanceEnv) -> WasmtimeInstance {
        WasmtimeInstance { store: Store { data: WasmInstanceEnv::new(env) }, module: self.module.clone() }
    }
}

/// wasmtime's `Store<WasmInstanceEnv>`: the instance's host-side state.
pub struct Store {
    data: WasmInstanceEnv,
}

pub struct WasmtimeInstance {
    store: Store,
    module: Arc<ModuleDef>,
}

/// The message of a panic payload (a `&str` or `String`, as `panic!` makes).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

/// Calls the reducer function: a returned `Err` is a user error, a panic a
/// trap (caught here, as wasmtime turns a guest trap into an error).
pub(super) fn call_sync_typed_func(func: ReducerFn, store: &mut Store, args: &[u8]) -> Result<(), ExecutionError> {
    match panic::catch_unwind(AssertUnwindSafe(|| func(&mut store.data, args))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(msg)) => Err(ExecutionError::User(msg)),
        Err(payload) => Err(ExecutionError::Trap(Trap {
            message: format!("wasm trap: panicked: {}", panic_message(&*payload)).into(),
        })),
    }
}

impl WasmInstance for WasmtimeInstance {
    fn replica_ctx(&self) -> &Arc<ReplicaContext> {
        &self.store.data.instance_env().replica_ctx
    }

    fn tx_slot(&self) -> TxSlot {
        self.store.data.instance_env().tx.clone()
    }

    /// Enters the module for one reducer. #[inline(never)]: its only caller
    /// is `InstanceCommon::call_reducer_with_tx::<WasmtimeInstance>`, into
    /// which thin LTO would inline this short body; SpacetimeDB's enters
    /// wasmtime here and stays a symbol.
    #[inline(never)]
    fn call_reducer(&mut self, op: ReducerOp<'_>, budget: FunctionBudget) -> ReducerExecuteResult {
        let start = Instant::now();
        self.store.data.start_reducer(*op.caller_identity, op.timestamp);
        let func = self.module.reducer_by_id(op.id).func;
        let call_result = call_sync_typed_func(func, &mut self.store, op.args.get_bsatn());
        let (host_calls, energy_used) = self.store.data.finish_reducer();
        let remaining = FunctionBudget::new(budget.get().saturating_sub(energy_used));
        ExecutionResult {
            stats: ExecutionStats {
                energy: EnergyStats { budget, remaining },
                timings: ExecutionTimings { total_duration: start.elapsed(), wasm_instance_env_calls: host_calls },
                memory_allocation: 0,
            },
            call_result,
        }
    }

    fn log_traceback(&self, func_type: &str, func: &str, trap: &Trap) {
        self.store.data.instance_env().console_log(
            LogLevel::Error,
            Some(func),
            &format!("{func_type} \"{func}\" runtime error: {}", trap.message),
        );
    }
}
