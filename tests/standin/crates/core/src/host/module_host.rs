// SPDX-License-Identifier: MIT
//! `ModuleHost`: the handle HTTP handlers use to reach a database's module.
//! Every call becomes a job on the database's executor thread
//! (`wasm-<10 hex>`), where reducers, SQL and subscription evaluation run,
//! one at a time; the calling thread waits for the result.

use crate::energy::FunctionBudget;
use crate::error::DBError;
use crate::host::module_def::ModuleDef;
use crate::host::wasm_common::module_host_actor::{InstanceCommon, WasmInstance, WasmModuleInstance};
use crate::host::wasmtime::wasm_worker_thread_name;
use crate::host::wasmtime::wasmtime_module::{WasmtimeInstance, WasmtimeModule};
use crate::host::instance_env::InstanceEnv;
use crate::host::{ArgsTuple, FunctionArgs, ReducerCallError, ReducerCallResult, Timestamp};
use crate::identity::{AuthCtx, ConnectionId, Identity};
use crate::replica_context::ReplicaContext;
use crate::sql::execute::{run_inner, SqlResult};
use crate::subscription::module_subscription_actor::ModuleSubscriptions;
use crate::subscription::module_subscription_manager::ClientConnectionSender;
use crate::util::jobs::SingleThreadedExecutor;
use spacetimedb_primitives::ReducerId;
use spacetimedb_sats::AlgebraicType;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the host knows about a running module.
pub struct ModuleInfo {
    pub module_def: Arc<ModuleDef>,
    pub database_identity: Identity,
    pub owner_identity: Identity,
    /// Hex; labels metrics.
    pub module_hash: Box<str>,
    pub subscriptions: ModuleSubscriptions,
}

/// One reducer call, as the host passes it to the instance's runner.
pub struct CallReducerParams {
    pub timestamp: Timestamp,
    pub caller_identity: Identity,
    pub caller_connection_id: ConnectionId,
    pub client: Option<Arc<ClientConnectionSender>>,
    pub request_id: Option<u32>,
    pub timer: Option<Instant>,
    pub reducer_id: ReducerId,
    pub args: ArgsTuple,
}

#[derive(Clone, Debug)]
pub struct ModuleFunctionCall {
    pub reducer: String,
    pub reducer_id: ReducerId,
    pub args: ArgsTuple,
}

/// The rows a committed reducer changed (filled by the commit).
#[derive(Clone, Debug, Default)]
pub struct DatabaseUpdate {
    pub tables: Vec<spacetimedb_datastore::traits::TableDelta>,
}

#[derive(Clone, Debug)]
pub enum EventStatus {
    Committed(DatabaseUpdate),
    Failed(String),
    OutOfEnergy,
}

/// A finished reducer call, as subscribers are told about it.
#[derive(Clone, Debug)]
pub struct ModuleEvent {
    pub timestamp: Timestamp,
    pub caller_identity: Identity,
    pub caller_connection_id: Option<ConnectionId>,
    pub function_call: ModuleFunctionCall,
    pub status: EventStatus,
    pub energy_quanta_used: FunctionBudget,
    pub host_execution_duration: Duration,
    pub request_id: Option<u32>,
    pub timer: Option<Instant>,
}

/// An instance borrowed for work that is not a reducer (SQL), as
/// SpacetimeDB passes it to `run_inner`.
pub struct RefInstance<'a, I: WasmInstance> {
    pub common: &'a mut InstanceCommon,
    pub instance: &'a mut I,
}

/// The executor thread's state: the module, and its live instance.
struct HostState {
    module: WasmtimeModule,
    replica_ctx: Arc<ReplicaContext>,
    info: Arc<ModuleInfo>,
    instance: WasmModuleInstance<WasmtimeInstance>,
}

impl HostState {
    fn new_instance(module: &WasmtimeModule, replica_ctx: &Arc<ReplicaContext>, info: &Arc<ModuleInfo>) -> WasmModuleInstance<WasmtimeInstance> {
        let inst = module.instantiate(InstanceEnv::new(replica_ctx.clone()));
        WasmModuleInstance::new(inst, InstanceCommon::new(info.clone()))
    }
}

pub struct ModuleHost {
    info: Arc<ModuleInfo>,
    replica_ctx: Arc<ReplicaContext>,
    executor: Arc<SingleThreadedExecutor<HostState>>,
}

impl Clone for ModuleHost {
    fn clone(&self) -> Self {
        ModuleHost { info: self.info.clone(), replica_ctx: self.replica_ctx.clone(), executor: self.executor.clone() }
    }
}

impl ModuleHost {
    /// Starts the database's executor thread with one instance of `module`.
    pub fn launch(module: WasmtimeModule, replica_ctx: Arc<ReplicaContext>, info: Arc<ModuleInfo>) -> std::io::Result<Self> {
        let name = wasm_worker_thread_name(&replica_ctx.database.database_identity);
        let (ctx, inf) = (replica_ctx.clone(), info.clone());
        let executor = SingleThreadedExecutor::spawn(name, move || {
            let instance = HostState::new_instance(&module, &ctx, &inf);
            HostState { module, replica_ctx: ctx, info: inf, instance }
        })?;
        Ok(ModuleHost { info, replica_ctx, executor: Arc::new(executor) })
    }

    pub fn info(&self) -> &Arc<ModuleInfo> {
        &self.info
    }

    pub fn replica_ctx(&self) -> &Arc<ReplicaContext> {
        &self.replica_ctx
    }

    /// Calls reducer `reducer_name` with `args` and waits for the outcome.
    #[allow(clippy::too_many_arguments)]
    pub fn call_reducer(
        &self,
        caller_identity: Identity,
        caller_connection_id: Option<ConnectionId>,
        client: Option<Arc<ClientConnectionSender>>,
        request_id: Option<u32>,
        timer: Option<Instant>,
        reducer_name: &str,
        args: FunctionArgs,
    ) -> Result<ReducerCallResult, ReducerCallError> {
        let (reducer_id, def) = self.info.module_def.reducer_by_name(reducer_name).ok_or(ReducerCallError::NoSuchReducer)?;
        let args = args.into_tuple(&def.params).map_err(ReducerCallError::Args)?;
        let params = CallReducerParams {
            timestamp: Timestamp::now(),
            caller_identity,
            caller_connection_id: caller_connection_id.unwrap_or(ConnectionId::ZERO),
            client,
            request_id,
            timer,
            reducer_id,
            args,
        };
        self.executor
            .run_sync_job(move |state: &mut HostState| {
                let res = state.instance.call_reducer(params);
                if state.instance.trapped() {
                    // A trapped instance is replaced, as SpacetimeDB does.
                    state.instance = HostState::new_instance(&state.module, &state.replica_ctx, &state.info);
                }
                res
            })
            .map_err(|_| ReducerCallError::NoSuchModule)
    }

    /// Runs one SQL statement; the result rows and their column names/types.
    pub fn call_sql(&self, sql_text: String, auth: AuthCtx) -> Result<(SqlResult, Vec<(Box<str>, AlgebraicType)>), DBError> {
        self.executor
            .run_sync_job(move |state: &mut HostState| {
                let db = state.replica_ctx.relational_db.clone();
                let subs = state.info.subscriptions.clone();
                let mut head = Vec::new();
                let mut inst = state.instance.ref_instance();
                let res = run_inner(Some(&mut inst), db, sql_text, auth, Some(subs), &mut head);
                res.map(|(r, _trapped)| (r, head))
            })
            .unwrap_or_else(|_| Err(DBError::Other("the database's executor is gone".into())))
    }

    /// Stops the executor thread after the jobs already queued.
    pub fn exit(&self) {
        self.executor.shutdown()
    }
}
