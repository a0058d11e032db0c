// SPDX-License-Identifier: MIT
//! `GET /v1/database/{name_or_identity}/subscribe`: the WebSocket upgrade.
//! The handshake is RFC 6455's; a subprotocol is chosen from SpacetimeDB's
//! when the client offers any. After it the stand-in echoes messages (it
//! does not speak SpacetimeDB's subscription protocol).

use crate::http::{Outcome, Request, Response, Upgraded};
use crate::routes::database::anonymous_identity;
use crate::websocket::{accept_key, base64_decode, echo_loop};
use crate::ControlStateDelegate;
use spacetimedb::worker_metrics::WORKER_METRICS;

/// The subprotocols SpacetimeDB clients ask for.
pub const PROTOCOLS: &[&str] = &["v1.bsatn.spacetimedb", "v1.json.spacetimedb", "v2.bsatn.spacetimedb"];

fn bad(message: &str) -> Outcome {
    Outcome::Response(Response::text(400, message))
}

pub fn handle_websocket<S: ControlStateDelegate>(ctx: &S, name_or_identity: &str, req: &Request) -> Outcome {
    if !req.header_has_token("connection", "upgrade") || !req.header_has_token("upgrade", "websocket") {
        return Outcome::Response(
            Response::text(426, "Connection header did not include 'upgrade'").header("upgrade", "websocket"),
        );
    }
    if req.header("sec-websocket-version") != Some("13") {
        return Outcome::Response(
            Response::text(400, "`Sec-WebSocket-Version` header did not include '13'").header("sec-websocket-version", "13"),
        );
    }
    let key = match req.header("sec-websocket-key") {
        Some(k) => k.to_string(),
        None => return bad("`Sec-WebSocket-Key` header missing"),
    };
    if base64_decode(&key).map(|k| k.len()) != Some(16) {
        return bad("`Sec-WebSocket-Key` is not 16 bytes in base64");
    }
    let offered: Vec<String> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-protocol"))
        .flat_map(|(_, v)| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    let protocol = offered.iter().find(|p| PROTOCOLS.contains(&p.as_str())).cloned();
    if !offered.is_empty() && protocol.is_none() {
        return bad("no supported WebSocket subprotocol offered");
    }
    let module = match ctx.get_module_host(name_or_identity) {
        Some(m) => m,
        None => return Outcome::Response(Response::text(404, "No such database.")),
    };
    let mut resp = Response::new(101)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept_key(&key))
        .header("spacetime-identity", anonymous_identity().to_hex());
    if let Some(p) = &protocol {
        resp = resp.header("sec-websocket-protocol", p.clone());
    }
    let db = module.info().database_identity.to_hex();
    let label = protocol.unwrap_or_default();
    Outcome::Upgrade(
        resp,
        Box::new(move |up: Upgraded| {
            echo_loop(up.stream, up.buffered, &|_is_text| WORKER_METRICS.websocket_requests.inc(&[&db, &label]));
        }),
    )
}
