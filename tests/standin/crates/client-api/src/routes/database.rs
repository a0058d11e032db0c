// SPDX-License-Identifier: MIT
//! The database routes: call a reducer, run SQL, read logs, describe.
//! Status codes as SpacetimeDB's: 200 on success, 530 when the reducer
//! failed (returned an error or trapped; the body is the message), 402 when
//! out of energy, 404 for no such database or reducer, 400 for bad
//! arguments or SQL, 415 for a non-JSON call body.

use crate::http::{Request, Response};
use crate::ControlStateDelegate;
use spacetimedb::host::{FunctionArgs, ReducerCallError, ReducerOutcome};
use spacetimedb::identity::{AuthCtx, Identity};
use spacetimedb_sats::json::{write_string, write_value};
use std::time::Instant;

/// The identity of HTTP callers without a token (the stand-in has no auth).
pub fn anonymous_identity() -> Identity {
    Identity::from_name("anonymous")
}

fn no_such_database() -> Response {
    Response::text(404, "No such database.")
}

pub fn call<S: ControlStateDelegate>(ctx: &S, name_or_identity: &str, reducer: &str, req: &Request) -> Response {
    match req.header("content-type") {
        None => return Response::text(400, "Header of type `content-type` was missing"),
        Some(ct) => {
            let media = ct.split(';').next().unwrap_or("").trim();
            if !media.eq_ignore_ascii_case("application/json") {
                return Response::text(415, "Expected request with `Content-Type: application/json`");
            }
        }
    }
    let module = match ctx.get_module_host(name_or_identity) {
        Some(m) => m,
        None => return no_such_database(),
    };
    let result = module.call_reducer(
        anonymous_identity(),
        None,
        None,
        None,
        Some(Instant::now()),
        reducer,
        FunctionArgs::Json(req.body.clone()),
    );
    match result {
        Err(ReducerCallError::NoSuchReducer) => Response::text(404, format!("no such reducer: {reducer}")),
        Err(ReducerCallError::NoSuchModule) => Response::text(404, "no such module"),
        Err(e @ ReducerCallError::Args(_)) => Response::text(400, e.to_string()),
        Ok(res) => {
            let (status, body): (u16, String) = match res.outcome {
                ReducerOutcome::Committed => (200, String::new()),
                ReducerOutcome::Failed(msg) => (530, msg.into()),
                ReducerOutcome::BudgetExceeded => (402, "Module energy budget exhausted.".to_string()),
            };
            Response::text(status, body)
                .header("spacetime-energy-used", res.energy_used.get().to_string())
                .header("spacetime-execution-duration-micros", res.execution_duration.as_micros().to_string())
        }
    }
}

/// Runs the SQL statement in the body; the result as SpacetimeDB's JSON:
/// `[{"schema":{"elements":[{"name":{"some":"id"},"algebraic_type":{"U32":[]}},...]},
///    "rows":[[...],...],"total_duration_micros":N,"stats":{...}}]`.
pub fn sql<S: ControlStateDelegate>(ctx: &S, name_or_identity: &str, req: &Request) -> Response {
    let module = match ctx.get_module_host(name_or_identity) {
        Some(m) => m,
        None => return no_such_database(),
    };
    let text = match String::from_utf8(req.body.clone()) {
        Ok(t) => t,
        Err(_) => return Response::text(400, "the SQL must be UTF-8"),
    };
    let start = Instant::now();
    let auth = AuthCtx::for_current(module.info().owner_identity);
    let (result, head) = match module.call_sql(text, auth) {
        Ok(r) => r,
        Err(e) => return Response::text(400, e.to_string()),
    };
    let mut out = String::from("[{\"schema\":{\"elements\":[");
    for (i, (name, ty)) in head.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":{\"some\":");
        write_string(name, &mut out);
        out.push_str(&format!("}},\"algebraic_type\":{{\"{}\":[]}}}}", ty.sats_name()));
    }
    out.push_str("]},\"rows\":[");
    for (i, row) in result.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        for (j, v) in row.elements.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            write_value(v, &mut out);
        }
        out.push(']');
    }
    let m = result.metrics;
    out.push_str(&format!(
        "],\"total_duration_micros\":{},\"stats\":{{\"rows_inserted\":{},\"rows_deleted\":{},\"rows_updated\":{}}}}}]",
        start.elapsed().as_micros(),
        m.rows_inserted,
        m.rows_deleted,
        m.rows_updated
    ));
    Response::json(200, out)
}

pub fn logs<S: ControlStateDelegate>(ctx: &S, name_or_identity: &str) -> Response {
    match ctx.get_module_host(name_or_identity) {
        Some(m) => Response::text(200, m.replica_ctx().logger.read_all()),
        None => no_such_database(),
    }
}

pub fn db_info<S: ControlStateDelegate>(ctx: &S, name_or_identity: &str) -> Response {
    let module = match ctx.get_module_host(name_or_identity) {
        Some(m) => m,
        None => return no_such_database(),
    };
    let db = &module.replica_ctx().database;
    let mut out = String::from("{\"database_identity\":");
    write_string(&db.database_identity.to_hex(), &mut out);
    out.push_str(",\"owner_identity\":");
    write_string(&db.owner_identity.to_hex(), &mut out);
    out.push_str(",\"name\":");
    write_string(&db.name, &mut out);
    out.push_str(",\"host_type\":\"wasm\"}");
    Response::json(200, out)
}
