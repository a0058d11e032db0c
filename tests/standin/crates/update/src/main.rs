// SPDX-License-Identifier: MIT
//! spacetimedb-update (stand-in): SpacetimeDB's version manager, installed
//! as the `spacetime` symlink. Run as `spacetime`, it execs
//! `spacetimedb-cli` with the same arguments, in the same process (execvp,
//! as SpacetimeDB's `proxy::run_cli` does on Unix). The real one finds the
//! CLI in its versions directory; the stand-in takes the one beside itself.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let stem = Path::new(&argv0).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    if stem != "spacetime" {
        eprintln!("spacetimedb-update (stdbtel stand-in): run me as `spacetime` (a symlink) to start the CLI");
        return ExitCode::from(2);
    }
    let dir = match std::env::current_exe() {
        Ok(exe) => exe.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(e) => {
            eprintln!("spacetime: cannot find my own executable: {e}");
            return ExitCode::from(1);
        }
    };
    let cli = dir.join("spacetimedb-cli");
    let err = Command::new(&cli).args(args).exec();
    eprintln!("spacetime: cannot exec {}: {err}", cli.display());
    ExitCode::from(1)
}
