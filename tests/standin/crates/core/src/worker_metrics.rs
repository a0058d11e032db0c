// SPDX-License-Identifier: MIT
//! The host's counters (`WORKER_METRICS`, names as in SpacetimeDB's
//! `worker_metrics`), beside the datastore's `DB_METRICS`.

use spacetimedb_datastore::db_metrics::{CounterFamily, DB_METRICS};

pub struct WorkerMetrics {
    pub wasm_instance_errors: CounterFamily,
    pub reducer_calls: CounterFamily,
    pub websocket_requests: CounterFamily,
    pub delta_queries_evaluated: CounterFamily,
    pub delta_queries_matched: CounterFamily,
}

pub static WORKER_METRICS: WorkerMetrics = WorkerMetrics {
    wasm_instance_errors: CounterFamily::new(
        "spacetime_worker_wasm_instance_errors_total",
        "The number of fatal WASM instance errors, such as reducer panics",
        &["database_identity", "module_hash", "reducer"],
    ),
    reducer_calls: CounterFamily::new(
        "spacetime_reducer_calls_total",
        "Reducer calls by outcome (a stand-in counter, not one of SpacetimeDB's)",
        &["db", "reducer", "outcome"],
    ),
    websocket_requests: CounterFamily::new(
        "spacetime_websocket_requests_total",
        "The cumulative number of websocket request messages",
        &["db", "protocol"],
    ),
    delta_queries_evaluated: CounterFamily::new(
        "spacetime_num_delta_queries_evaluated",
        "The number of incremental subscription queries evaluated",
        &["db"],
    ),
    delta_queries_matched: CounterFamily::new(
        "spacetime_num_delta_queries_matched",
        "The number of incremental subscription queries that matched rows",
        &["db"],
    ),
};

/// Every counter in the Prometheus text format (`GET /v1/metrics`).
pub fn gather_text() -> String {
    let mut out = String::new();
    WORKER_METRICS.wasm_instance_errors.encode(&mut out);
    WORKER_METRICS.reducer_calls.encode(&mut out);
    WORKER_METRICS.websocket_requests.encode(&mut out);
    WORKER_METRICS.delta_queries_evaluated.encode(&mut out);
    WORKER_METRICS.delta_queries_matched.encode(&mut out);
    DB_METRICS.encode(&mut out);
    out
}
