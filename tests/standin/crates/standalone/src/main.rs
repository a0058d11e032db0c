// SPDX-License-Identifier: MIT
//! spacetimedb-standalone (stand-in): a SpacetimeDB-shaped server for the
//! stdbtel tests and demo. Not SpacetimeDB: std only, an in-memory
//! database `quickstart` with native reducers in place of WASM, and the
//! HTTP routes and status codes of SpacetimeDB's API. See
//! tests/standin/README.md.
//!
//!   spacetimedb-standalone start --data-dir DIR [--listen-addr HOST:PORT] [...]
//!   spacetimedb-standalone version

mod signals;
mod subcommands;

use std::process::ExitCode;

pub const VERSION: &str = "2.8.3";

const USAGE: &str = "usage: spacetimedb-standalone start --data-dir DIR [--listen-addr HOST:PORT]
       [--jwt-key-dir DIR] [--jwt-pub-key-path FILE] [--jwt-priv-key-path FILE]
       [--pg-port PORT] [--in-memory] [--enable-tracy]
       spacetimedb-standalone version";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(|s| s.as_str()) {
        Some("start") => subcommands::start::exec(&args[1..]),
        Some("version") | Some("--version") => {
            println!("spacetimedb-standalone {VERSION} (stdbtel stand-in)");
            ExitCode::SUCCESS
        }
        Some("help") | Some("--help") | Some("-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
