// SPDX-License-Identifier: MIT
//! `run_inner`: one SQL statement from text to rows, on the database's
//! executor thread. A SELECT runs in a read-only transaction; DML in a
//! mutable one that is committed (and subscriptions evaluated) on success.

use crate::db::RelationalDB;
use crate::error::DBError;
use crate::host::module_host::{DatabaseUpdate, EventStatus, ModuleEvent, ModuleFunctionCall, RefInstance};
use crate::host::wasm_common::module_host_actor::WasmInstance;
use crate::host::{ArgsTuple, Timestamp};
use crate::energy::FunctionBudget;
use crate::sql::ast::SchemaViewer;
use crate::subscription::module_subscription_actor::ModuleSubscriptions;
use spacetimedb_datastore::execution_context::Workload;
use spacetimedb_datastore::traits::IsolationLevel;
use spacetimedb_execution::ExecutionMetrics;
use spacetimedb_primitives::ReducerId;
use spacetimedb_query::{compile_sql_stmt, execute_dml_stmt, execute_select_stmt, Statement};
use spacetimedb_sats::identity::AuthCtx;
use spacetimedb_sats::{AlgebraicType, ProductValue};
use std::sync::Arc;
use std::time::Duration;

pub type RawIdentifier = Box<str>;

/// A statement's rows (empty for DML) and what it cost.
#[derive(Clone, Debug, Default)]
pub struct SqlResult {
    pub rows: Vec<ProductValue>,
    pub metrics: ExecutionMetrics,
}

/// SELECTs refused before running: more rows than this in a full scan.
const ROW_LIMIT: u64 = 1_000_000;

fn sql_error(sql: &str, e: impl std::fmt::Display) -> DBError {
    DBError::Sql { sql: sql.into(), error: e.to_string().into() }
}

/// Compiles and runs `sql_text`; `head` receives the result's column names
/// and types. The bool is whether a module instance trapped (views run in
/// SpacetimeDB here; the stand-in has none, so it is always false).
///
/// #[inline(never)]: SpacetimeDB's is large and stays a symbol per
/// WasmInstance type; the stand-in's single instance would be inlined into
/// the executor job.
#[inline(never)]
pub fn run_inner<I: WasmInstance>(
    instance: Option<&mut RefInstance<'_, I>>,
    db: Arc<RelationalDB>,
    sql_text: String,
    auth: AuthCtx,
    subs: Option<ModuleSubscriptions>,
    head: &mut Vec<(RawIdentifier, AlgebraicType)>,
) -> Result<(SqlResult, bool), DBError> {
    let trapped = false;
    let _ = instance;
    let tx = db.begin_tx(Workload::Sql);
    let stmt = compile_sql_stmt(&sql_text, &SchemaViewer::new(&tx, &auth), &auth).map_err(|e| sql_error(&sql_text, e))?;
    let mut metrics = ExecutionMetrics::default();
    match stmt {
        Statement::Select(plan) => {
            head.extend(plan.head());
            let rows = execute_select_stmt(&auth, plan, &tx, &mut metrics, |plan| {
                let n = tx.committed_state().get_table(plan.table.table_id).map_or(0, |t| t.row_count());
                if plan.filter.is_empty() && n > ROW_LIMIT {
                    return Err(spacetimedb_execution::ExecError(format!("the query would return {n} rows").into()));
                }
                Ok(())
            })
            .map_err(|e| sql_error(&sql_text, e))?;
            db.release_tx(tx);
            Ok((SqlResult { rows, metrics }, trapped))
        }
        Statement::DML(dml) => {
            db.release_tx(tx);
            let mut tx = db.begin_mut_tx(IsolationLevel::Serializable, Workload::Sql);
            if let Err(e) = execute_dml_stmt(&auth, dml, &mut tx, &mut metrics) {
                db.rollback_mut_tx(tx);
                return Err(sql_error(&sql_text, e));
            }
            match subs {
                Some(subs) => {
                    let event = ModuleEvent {
                        timestamp: Timestamp::now(),
                        caller_identity: auth.caller,
                        caller_connection_id: None,
                        function_call: ModuleFunctionCall { reducer: String::new(), reducer_id: ReducerId(u32::MAX), args: ArgsTuple::nullary() },
                        status: EventStatus::Committed(DatabaseUpdate::default()),
                        energy_quanta_used: FunctionBudget::ZERO,
                        host_execution_duration: Duration::ZERO,
                        request_id: None,
                        timer: None,
                    };
                    subs.commit_and_broadcast_event(None, event, tx)?;
                }
                None => {
                    db.commit_tx(tx)?;
                }
            }
            Ok((SqlResult { rows: Vec::new(), metrics }, trapped))
        }
    }
}
