// SPDX-License-Identifier: MIT
//! spacetimedb-cli (stand-in): only `start`, which execs the
//! `spacetimedb-standalone` beside it in the same process (execvp, as
//! SpacetimeDB's `start` subcommand does on Unix) with
//! `start --data-dir <dir> --jwt-key-dir <dir>` and the remaining arguments.
//! Without `--data-dir` among them it uses SpacetimeDB's default,
//! `$XDG_DATA_HOME/spacetime/data` (or `~/.local/share/spacetime/data`).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn home_dir(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(fallback),
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("start") => {}
        Some("version") | Some("--version") => {
            println!("spacetimedb-cli 2.8.3 (stdbtel stand-in)");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("usage: spacetimedb-cli start [--edition standalone] [ARGS...] (the stdbtel stand-in has only `start`)");
            return ExitCode::from(2);
        }
    }
    let mut rest: Vec<OsString> = args[1..].to_vec();
    let mut edition = "standalone".to_string();
    if let Some(i) = rest.iter().position(|a| a == "--edition") {
        if i + 1 < rest.len() {
            edition = rest[i + 1].to_string_lossy().into_owned();
            rest.drain(i..i + 2);
        }
    }
    let dir = match std::env::current_exe() {
        Ok(exe) => exe.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(e) => {
            eprintln!("spacetime start: cannot find my own executable: {e}");
            return ExitCode::from(1);
        }
    };
    let server = dir.join(format!("spacetimedb-{edition}"));
    let mut cmd = Command::new(&server);
    cmd.arg("start");
    let has = |flag: &str| rest.iter().any(|a| a.to_str().map_or(false, |s| s == flag || s.starts_with(&format!("{flag}="))));
    if !has("--data-dir") {
        cmd.arg("--data-dir").arg(home_dir("XDG_DATA_HOME", ".local/share").join("spacetime").join("data"));
    }
    if !has("--jwt-key-dir") {
        cmd.arg("--jwt-key-dir").arg(home_dir("XDG_CONFIG_HOME", ".config").join("spacetime"));
    }
    cmd.args(&rest);
    let err = cmd.exec();
    eprintln!("spacetime start: cannot exec {}: {err}", server.display());
    ExitCode::from(1)
}
