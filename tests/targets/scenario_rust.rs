// SPDX-License-Identifier: MIT
//! scenario_rust.rs: a Rust program shaped like SpacetimeDB, for the
//! scenario tests (tests/preload/test_scenarios.c). Built with rustc -O,
//! std only, legacy mangling. The hooked functions have no #[no_mangle]:
//! the shim finds them by demangled path in .symtab, e.g.
//! `scenario_rust::db::relational_db::RelationalDB::insert`.
//! No std::hint::black_box or "C-unwind": both are newer than Debian's
//! rustc 1.63, which scripts/test.sh may install.
//!
//! Usage: scenario_rust panic N | threads T N
//!   panic N: round i calls host::module_host::run_reducer(i), which calls
//!     RelationalDB::insert inside std::panic::catch_unwind; insert calls
//!     db::check_row, which panics when i % 4 == 3, so the panic passes
//!     through insert and is caught in run_reducer, which returns normally.
//!     One line per round; a caught panic prints its message.
//!   threads T N: T std::thread threads; each calls worker::thread_main
//!     once, which calls worker::thread_step N times.
//! Every printed line depends on every argument and return value. Exit 0.

use std::panic;

/// Keeps the optimizer from folding values it could otherwise see through.
#[inline(always)]
fn opaque<T: Copy>(v: T) -> T {
    unsafe { std::ptr::read_volatile(&v) }
}

pub mod db {
    #[derive(Clone, Copy, Debug)]
    pub struct TableId(pub u32);

    #[derive(Debug)]
    pub struct RowPtr {
        pub table: u32,
        pub offset: u64,
    }

    #[derive(Debug)]
    pub enum DBError {
        NoSuchTable(u32),
    }

    pub struct MutTx {
        pub rows: Vec<(u32, Vec<u8>)>,
        pub bytes: u64,
    }

    /// Panics on rows marked bad (a bug in a reducer, in SpacetimeDB terms).
    #[inline(never)]
    pub fn check_row(row: &[u8]) -> u64 {
        if row.first() == Some(&b'!') {
            panic!("bad row {}", String::from_utf8_lossy(row));
        }
        row.iter().fold(7u64, |h, &b| h.wrapping_mul(31).wrapping_add(b as u64))
    }

    pub mod relational_db {
        use super::{check_row, DBError, MutTx, RowPtr, TableId};

        pub struct RelationalDB {
            pub tables: u32,
        }

        impl RelationalDB {
            #[inline(never)]
            pub fn insert(&self, tx: &mut MutTx, table_id: TableId, row: &[u8]) -> Result<RowPtr, DBError> {
                if table_id.0 >= self.tables {
                    return Err(DBError::NoSuchTable(table_id.0));
                }
                let hash = check_row(row);
                tx.rows.push((table_id.0, row.to_vec()));
                tx.bytes += row.len() as u64;
                Ok(RowPtr { table: table_id.0, offset: hash ^ tx.bytes })
            }
        }
    }
}

pub mod host {
    pub mod module_host {
        use crate::db::relational_db::RelationalDB;
        use crate::db::{MutTx, TableId};
        use std::panic;

        /// Runs one "reducer": an insert whose panic is caught here.
        #[inline(never)]
        pub fn run_reducer(db: &RelationalDB, tx: &mut MutTx, i: u32) -> String {
            let row = if i % 4 == 3 { format!("!row-{}", i) } else { format!("row-{}", i) };
            let table = TableId(crate::opaque(i % 5));
            let result = panic::catch_unwind(panic::AssertUnwindSafe(|| db.insert(tx, table, row.as_bytes())));
            match result {
                Ok(Ok(p)) => format!("ok {} {}", p.table, p.offset),
                Ok(Err(e)) => format!("err {:?}", e),
                Err(payload) => {
                    let msg = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "?".to_string());
                    format!("caught panic: {}", msg)
                }
            }
        }
    }
}

pub mod worker {
    #[inline(never)]
    pub fn thread_step(tid: u64, i: u64) -> u64 {
        (tid.wrapping_mul(1000003) + i) ^ (i << 7)
    }

    #[inline(never)]
    pub fn thread_main(tid: u64, n: u64) -> u64 {
        let mut acc = 0u64;
        for i in 0..n {
            acc = acc.wrapping_mul(3).wrapping_add(thread_step(tid, crate::opaque(i)));
        }
        acc
    }
}

fn scenario_panic(n: u32) {
    // The panics are on purpose: no message on stderr.
    panic::set_hook(Box::new(|_| {}));
    let db = db::relational_db::RelationalDB { tables: 4 };
    let mut tx = db::MutTx { rows: Vec::new(), bytes: 0 };
    for i in 0..n {
        let line = host::module_host::run_reducer(&db, &mut tx, i);
        println!("panic {}: {} (rows {}, bytes {})", i, line, tx.rows.len(), tx.bytes);
    }
}

fn scenario_threads(threads: u64, n: u64) {
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads as usize));
    let handles: Vec<_> = (0..threads)
        .map(|tid| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                worker::thread_main(tid, n)
            })
        })
        .collect();
    for (tid, h) in handles.into_iter().enumerate() {
        println!("threads {}: {}", tid, h.join().unwrap());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| -> u64 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(10) };
    match args.get(1).map(|s| s.as_str()) {
        Some("panic") => scenario_panic(num(2) as u32),
        Some("threads") => scenario_threads(num(2), num(3)),
        _ => {
            eprintln!("usage: scenario_rust panic N | threads T N");
            std::process::exit(2);
        }
    }
}
