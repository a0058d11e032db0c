// SPDX-License-Identifier: MIT
//! The `WasmInstance` trait and `InstanceCommon`, which runs a reducer as
//! one transaction: begin, call the instance, commit (then evaluate
//! subscriptions) or roll back. Runs on the database's executor thread.

use crate::database_logger::LogLevel;
use crate::energy::{FunctionBudget, ENERGY_PER_CALL};
use crate::host::instance_env::TxSlot;
use crate::host::module_host::{
    CallReducerParams, DatabaseUpdate, EventStatus, ModuleEvent, ModuleFunctionCall, ModuleInfo, RefInstance,
};
use crate::host::{ArgsTuple, ReducerCallResult, ReducerOutcome, Timestamp};
use crate::identity::{ConnectionId, Identity};
use crate::replica_context::ReplicaContext;
use crate::worker_metrics::WORKER_METRICS;
use spacetimedb_datastore::execution_context::{ReducerContext, Workload};
use spacetimedb_datastore::locking_tx_datastore::MutTxId;
use spacetimedb_datastore::traits::IsolationLevel;
use spacetimedb_primitives::ReducerId;
use std::sync::Arc;
use std::time::Duration;

/// A trap: the module failed in a way that is not a returned error (in
/// SpacetimeDB a WASM trap; here a panic in the reducer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub message: Box<str>,
}

/// One module instance, as the host drives it.
pub trait WasmInstance {
    fn replica_ctx(&self) -> &Arc<ReplicaContext>;

    fn tx_slot(&self) -> TxSlot;

    fn call_reducer(&mut self, op: ReducerOp<'_>, budget: FunctionBudget) -> ReducerExecuteResult;

    fn log_traceback(&self, func_type: &str, func: &str, trap: &Trap);
}

/// Describes a reducer call in a cheaply shareable way. More than 16
/// bytes, so it is passed by pointer to a copy; `name` is a `&str`
/// (pointer, length) inside it.
#[derive(Clone, Debug)]
pub struct ReducerOp<'a> {
    pub id: ReducerId,
    pub name: &'a str,
    pub caller_identity: &'a Identity,
    pub caller_connection_id: &'a ConnectionId,
    pub timestamp: Timestamp,
    /// The BSATN arguments.
    pub args: &'a ArgsTuple,
}

#[derive(Clone, Copy, Debug)]
pub struct EnergyStats {
    pub budget: FunctionBudget,
    pub remaining: FunctionBudget,
}

impl EnergyStats {
    pub fn used(&self) -> FunctionBudget {
        FunctionBudget::new(self.budget.get() - self.remaining.get())
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ExecutionTimings {
    pub total_duration: Duration,
    /// How many host (ABI) calls the module made.
    pub wasm_instance_env_calls: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct ExecutionStats {
    pub energy: EnergyStats,
    pub timings: ExecutionTimings,
    pub memory_allocation: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecutionError {
    /// The reducer returned an error.
    User(Box<str>),
    Recoverable(Trap),
    Trap(Trap),
}

pub struct ExecutionResult<T, E> {
    pub stats: ExecutionStats,
    pub call_result: Result<T, E>,
}

pub type ReducerExecuteResult = ExecutionResult<(), ExecutionError>;

/// An instance and what the host keeps beside it.
pub struct WasmModuleInstance<T: WasmInstance> {
    instance: T,
    common: InstanceCommon,
    trapped: bool,
}

impl<T: WasmInstance> WasmModuleInstance<T> {
    pub fn new(instance: T, common: InstanceCommon) -> Self {
        WasmModuleInstance { instance, common, trapped: false }
    }

    /// Whether the last call trapped (the instance must then be replaced).
    pub fn trapped(&self) -> bool {
        self.trapped
    }

    pub fn call_reducer(&mut self, params: CallReducerParams) -> ReducerCallResult {
        let (res, trapped) = self.call_reducer_with_tx(None, params);
        self.trapped = trapped;
        res
    }

    fn call_reducer_with_tx(&mut self, tx: Option<MutTxId>, params: CallReducerParams) -> (ReducerCallResult, bool) {
        self.common.call_reducer_with_tx(tx, params, &mut self.instance)
    }

    pub fn ref_instance(&mut self) -> RefInstance<'_, T> {
        RefInstance { common: &mut self.common, instance: &mut self.instance }
    }
}

pub struct InstanceCommon {
    info: Arc<ModuleInfo>,
    allocated_memory: usize,
}

/// What a failed call's caller is told when the module trapped.
pub const FATAL_ERROR_MESSAGE: &str = "The instance encountered a fatal error.";

impl InstanceCommon {
    pub fn new(info: Arc<ModuleInfo>) -> Self {
        InstanceCommon { info, allocated_memory: 0 }
    }

    pub fn info(&self) -> Arc<ModuleInfo> {
        self.info.clone()
    }

    /// Runs a reducer as one transaction: in `tx` if given, else a new one.
    /// Commits and evaluates subscriptions when the reducer returns Ok;
    /// rolls back when it returns an error or traps. The bool is true when
    /// the instance trapped.
    ///
    /// #[inline(never)]: SpacetimeDB's is large and stays a symbol (one per
    /// WasmInstance type); the stand-in's would be inlined into its only
    /// caller.
    #[inline(never)]
    pub(crate) fn call_reducer_with_tx<I: WasmInstance>(
        &mut self,
        tx: Option<MutTxId>,
        params: CallReducerParams,
        inst: &mut I,
    ) -> (ReducerCallResult, bool) {
        let CallReducerParams {
            timestamp,
            caller_identity,
            caller_connection_id,
            client,
            request_id,
            timer,
            reducer_id,
            args,
        } = params;
        let caller_connection_id_opt = if caller_connection_id == ConnectionId::ZERO { None } else { Some(caller_connection_id) };

        let replica_ctx = inst.replica_ctx().clone();
        let stdb = &*replica_ctx.relational_db;
        let info = self.info.clone();
        let reducer_def = info.module_def.reducer_by_id(reducer_id);
        let reducer_name: &str = &reducer_def.name;

        let op = ReducerOp {
            id: reducer_id,
            name: reducer_name,
            caller_identity: &caller_identity,
            caller_connection_id: &caller_connection_id,
            timestamp,
            args: &args,
        };

        let workload = Workload::Reducer(ReducerContext { name: reducer_name.to_owned() });
        let tx = tx.unwrap_or_else(|| stdb.begin_mut_tx(IsolationLevel::Serializable, workload));
        let mut tx_slot = inst.tx_slot();
        let budget = FunctionBudget::DEFAULT_BUDGET;
        let (tx, result) = tx_slot.set(tx, || inst.call_reducer(op, budget));
        if self.allocated_memory != result.stats.memory_allocation {
            self.allocated_memory = result.stats.memory_allocation;
        }

        let trapped = matches!(result.call_result, Err(ExecutionError::Trap(_)));
        let db_hex = info.database_identity.to_hex();
        let status = match result.call_result {
            Ok(()) => EventStatus::Committed(DatabaseUpdate::default()),
            Err(ExecutionError::Recoverable(err)) | Err(ExecutionError::Trap(err)) => {
                inst.log_traceback("reducer", reducer_name, &err);
                WORKER_METRICS.wasm_instance_errors.inc(&[&db_hex, &info.module_hash, reducer_name]);
                if result.stats.energy.remaining.get() == 0 {
                    EventStatus::OutOfEnergy
                } else {
                    EventStatus::Failed(FATAL_ERROR_MESSAGE.into())
                }
            }
            Err(ExecutionError::User(err)) => {
                replica_ctx.logger.write(LogLevel::Error, Some(reducer_name), &format!("reducer {reducer_name} failed: {err}"));
                EventStatus::Failed(err.into())
            }
        };

        let energy_used = FunctionBudget::new(result.stats.energy.used().get() + ENERGY_PER_CALL);
        let execution_duration = result.stats.timings.total_duration;
        let event = ModuleEvent {
            timestamp,
            caller_identity,
            caller_connection_id: caller_connection_id_opt,
            function_call: ModuleFunctionCall { reducer: reducer_name.to_string(), reducer_id, args },
            status,
            energy_quanta_used: energy_used,
            host_execution_duration: execution_duration,
            request_id,
            timer,
        };

        let outcome = match &event.status {
            EventStatus::Committed(_) => match info.subscriptions.commit_and_broadcast_event(client, event, tx) {
                Ok(_) => ReducerOutcome::Committed,
                Err(e) => ReducerOutcome::Failed(e.to_string().into()),
            },
            EventStatus::Failed(msg) => {
                let msg: Box<str> = msg.as_str().into();
                stdb.rollback_mut_tx(tx);
                ReducerOutcome::Failed(msg)
            }
            EventStatus::OutOfEnergy => {
                stdb.rollback_mut_tx(tx);
                ReducerOutcome::BudgetExceeded
            }
        };
        let outcome_label = match &outcome {
            ReducerOutcome::Committed => "committed",
            ReducerOutcome::Failed(_) => "failed",
            ReducerOutcome::BudgetExceeded => "budget_exceeded",
        };
        WORKER_METRICS.reducer_calls.inc(&[&db_hex, reducer_name, outcome_label]);

        (ReducerCallResult { outcome, energy_used, execution_duration }, trapped)
    }
}
