// SPDX-License-Identifier: MIT
//! Module logs: what reducers print (`console_log`) and the host's system
//! messages, as JSON lines in memory (for `GET /v1/database/{db}/logs`) and
//! appended to `<data-dir>/replicas/<id>/module_logs/<YYYY-MM-DD>.log`.
//! Any thread may write; one mutex orders the lines.

use spacetimedb_sats::json::write_string;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    fn name(&self) -> &'static str {
        match self {
            LogLevel::Error => "Error",
            LogLevel::Warn => "Warn",
            LogLevel::Info => "Info",
            LogLevel::Debug => "Debug",
        }
    }
}

struct LoggerState {
    lines: Vec<String>,
    file: Option<File>,
}

pub struct DatabaseLogger {
    state: Mutex<LoggerState>,
}

/// The civil (proleptic Gregorian) date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

impl DatabaseLogger {
    /// A logger that also appends to a file under `module_logs_dir`, if it
    /// can be created (logging never fails the caller).
    pub fn open(module_logs_dir: Option<&Path>) -> Self {
        let file = module_logs_dir.and_then(|dir| {
            std::fs::create_dir_all(dir).ok()?;
            let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let (y, m, d) = civil_from_days((secs / 86_400) as i64);
            OpenOptions::new().create(true).append(true).open(dir.join(format!("{y:04}-{m:02}-{d:02}.log"))).ok()
        });
        DatabaseLogger { state: Mutex::new(LoggerState { lines: Vec::new(), file }) }
    }

    pub fn write(&self, level: LogLevel, target: Option<&str>, message: &str) {
        let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        let mut line = format!("{{\"level\":\"{}\",\"ts\":{micros},\"target\":", level.name());
        match target {
            Some(t) => write_string(t, &mut line),
            None => line.push_str("null"),
        }
        line.push_str(",\"message\":");
        write_string(message, &mut line);
        line.push('}');
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = state.file.as_mut() {
            let _ = writeln!(f, "{line}");
        }
        state.lines.push(line);
    }

    pub fn system(&self, message: &str) {
        self.write(LogLevel::Info, Some("spacetimedb"), message)
    }

    /// Every line so far, newline-terminated.
    pub fn read_all(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for l in &state.lines {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}
