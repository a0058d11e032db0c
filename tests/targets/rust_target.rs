// SPDX-License-Identifier: MIT
//! rust_target: functions shaped like SpacetimeDB's, for the resolver tests.
//! Built twice: legacy mangling (the stable default) and v0 (nightly's
//! default, `-C symbol-mangling-version=v0`). Every function here is
//! `#[inline(never)]` so that it exists as a symbol.

pub mod db {
    pub mod relational_db {
        pub struct RelationalDB {
            pub rows: Vec<Vec<u8>>,
        }

        impl RelationalDB {
            /// An inherent method: legacy `rust_target::db::relational_db::RelationalDB::insert`,
            /// v0 `<rust_target::db::relational_db::RelationalDB>::insert`.
            #[inline(never)]
            pub fn insert(&mut self, table_id: u32, row: &[u8]) -> Result<u64, String> {
                if table_id == u32::MAX {
                    return Err("no such table".to_string());
                }
                self.rows.push(row.to_vec());
                Ok(self.rows.len() as u64)
            }
        }
    }
}

pub trait WasmInstance {
    fn call_reducer(&mut self, name: &str, args: &[u8]) -> u32;
}

pub struct WasmtimeInstance {
    pub calls: u32,
}

impl WasmInstance for WasmtimeInstance {
    /// A trait method: `<rust_target::WasmtimeInstance as rust_target::WasmInstance>::call_reducer`.
    #[inline(never)]
    fn call_reducer(&mut self, name: &str, args: &[u8]) -> u32 {
        self.calls += (name.len() + args.len()) as u32;
        self.calls
    }
}

/// A generic function: one symbol per instance, all with one demangled path.
#[inline(never)]
pub fn scan_chunks<T: Copy + Into<u64>>(items: &[T]) -> u64 {
    items.iter().map(|&x| x.into()).sum()
}

fn main() {
    let mut db = db::relational_db::RelationalDB { rows: Vec::new() };
    let mut wasm = WasmtimeInstance { calls: 0 };
    let rounds: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut total = 0u64;
    for r in 0..rounds {
        let row = format!("row-{}", r);
        total += (&mut db).insert(r as u32, row.as_bytes()).unwrap_or(0);
        total += (&mut wasm).call_reducer("add", row.as_bytes()) as u64;
        total += scan_chunks(&[r as u8, 1u8]);
        total += scan_chunks(&[r as u32, 2u32]);
    }
    println!("rust_target: {} rounds, total {}", rounds, total);
}
