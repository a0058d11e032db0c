// SPDX-License-Identifier: MIT
//! `GET /v1/metrics`: every counter in the Prometheus text format.

use crate::http::Response;
use crate::NodeDelegate;

pub fn metrics<S: NodeDelegate>(ctx: &S) -> Response {
    Response::new(200)
        .header("content-type", "text/plain; version=0.0.4")
        .body(ctx.gather_metrics().into_bytes())
}
