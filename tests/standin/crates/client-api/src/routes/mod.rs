// SPDX-License-Identifier: MIT
//! The routes, nested under `/v1` as in SpacetimeDB:
//!
//!   GET  /v1/ping
//!   GET  /v1/metrics
//!   GET  /v1/database/{name_or_identity}
//!   POST /v1/database/{name_or_identity}/call/{reducer}
//!   POST /v1/database/{name_or_identity}/sql
//!   GET  /v1/database/{name_or_identity}/subscribe   (WebSocket)
//!   GET  /v1/database/{name_or_identity}/logs
//!
//! Anything else is 404; a known path with another method is 405.

pub mod database;
pub mod metrics;
pub mod subscribe;

use crate::http::{percent_decode, Outcome, Request, Response};
use crate::{ControlStateDelegate, NodeDelegate};

fn allow(method: &str) -> Outcome {
    Outcome::Response(Response::text(405, "Method Not Allowed").header("allow", method))
}

/// Routes one request.
pub fn router<S: ControlStateDelegate + NodeDelegate>(ctx: &S, req: &Request) -> Outcome {
    let segments: Option<Vec<String>> = req.path[1..].split('/').map(percent_decode).collect();
    let segments = match segments {
        Some(s) => s,
        None => return Outcome::Response(Response::text(400, "bad percent-encoding in the path")),
    };
    let segs: Vec<&str> = segments.iter().map(|s| s.as_str()).collect();
    let method = req.method.as_str();
    match segs.as_slice() {
        ["v1", "ping"] => match method {
            "GET" => Outcome::Response(Response::new(200)),
            _ => allow("GET"),
        },
        ["v1", "metrics"] => match method {
            "GET" => Outcome::Response(metrics::metrics(ctx)),
            _ => allow("GET"),
        },
        ["v1", "database", db] if !db.is_empty() => match method {
            "GET" => Outcome::Response(database::db_info(ctx, db)),
            _ => allow("GET"),
        },
        ["v1", "database", db, "call", reducer] if !db.is_empty() && !reducer.is_empty() => match method {
            "POST" => Outcome::Response(database::call(ctx, db, reducer, req)),
            _ => allow("POST"),
        },
        ["v1", "database", db, "sql"] if !db.is_empty() => match method {
            "POST" => Outcome::Response(database::sql(ctx, db, req)),
            _ => allow("POST"),
        },
        ["v1", "database", db, "logs"] if !db.is_empty() => match method {
            "GET" => Outcome::Response(database::logs(ctx, db)),
            _ => allow("GET"),
        },
        ["v1", "database", db, "subscribe"] if !db.is_empty() => match method {
            "GET" => subscribe::handle_websocket(ctx, db, req),
            _ => allow("GET"),
        },
        _ => Outcome::Response(Response::text(404, "Not Found")),
    }
}
