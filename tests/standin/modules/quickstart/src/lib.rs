// SPDX-License-Identifier: MIT
//! spacetime_module: the `quickstart` database's module. In SpacetimeDB
//! this would be compiled to WASM and reach the host only through its
//! imports; here the reducers are native functions with the same
//! boundary: they get BSATN arguments and call `WasmInstanceEnv` only.
//!
//! Tables: `person` (id u32 primary key auto_inc, name string) and
//! `message` (id u64 primary key auto_inc, sender u32, text string).
//! Reducers (JSON arguments in order):
//!   add(id: u32, name: string)        one person; id 0 = generated
//!   add_many(n: u32, prefix: string)  n persons named prefix0.., ids generated
//!   send_message(sender: u32, text: string)
//!   insert_into(table_id: u32, id: u32, name: string)  a person row into any table id
//!   scan(id: u32)                     full scan, index point and range scans, logged
//!   say_hello()                       "Hello, <name>!" per person, logged
//!   fail(id: u32)                     inserts a person, then returns an error
//!   panic_reducer(id: u32)            inserts a person, then panics (a trap)

use spacetimedb::database_logger::LogLevel;
use spacetimedb::host::module_def::{ModuleDef, ReducerDef, ReducerFn, TableDef};
use spacetimedb::host::wasmtime::wasm_instance_env::{Errno, WasmInstanceEnv};
use spacetimedb_sats::{bsatn, AlgebraicType, AlgebraicValue, ProductType, ProductValue};

const PERSON: &str = "person";
const PERSON_ID_INDEX: &str = "person_id_idx_btree";
const MESSAGE: &str = "message";

fn person_type() -> ProductType {
    ProductType::new(&[("id", AlgebraicType::U32), ("name", AlgebraicType::String)])
}

fn args(params: &[(&str, AlgebraicType)], bytes: &[u8]) -> Result<Vec<AlgebraicValue>, Box<str>> {
    bsatn::decode_product(&ProductType::new(params), bytes)
        .map(|p| p.elements)
        .map_err(|e| format!("bad arguments: {e}").into())
}

fn u32_arg(v: &AlgebraicValue) -> u32 {
    match v {
        AlgebraicValue::U32(n) => *n,
        _ => 0,
    }
}

fn str_arg(v: &AlgebraicValue) -> &str {
    match v {
        AlgebraicValue::String(s) => s,
        _ => "",
    }
}

fn errno_msg(what: &str, e: Errno) -> Box<str> {
    format!("{what}: {}", e.name()).into()
}

fn log(env: &mut WasmInstanceEnv, target: &str, msg: &str) {
    env.console_log(LogLevel::Info, Some(target), msg)
}

/// Inserts a person into `table_id`; the id it got (generated when 0).
fn insert_person(env: &mut WasmInstanceEnv, table_id: u32, id: u32, name: &str) -> Result<u32, Box<str>> {
    let mut row = bsatn::to_vec(&ProductValue::new(vec![AlgebraicValue::U32(id), AlgebraicValue::String(name.into())]));
    env.datastore_insert_bsatn(table_id, &mut row)
        .map_err(|e| errno_msg(&format!("insert into table {table_id} (id = {id})"), e))?;
    let mut buf = &row[..4];
    match bsatn::decode_value(AlgebraicType::U32, &mut buf) {
        Ok(AlgebraicValue::U32(n)) => Ok(n),
        _ => Ok(id),
    }
}

fn person_table(env: &mut WasmInstanceEnv) -> Result<u32, Box<str>> {
    env.table_id_from_name(PERSON).map_err(|e| errno_msg("table person", e))
}

/// Decodes the persons packed in scan chunks, and gives the chunks back.
fn read_persons(env: &mut WasmInstanceEnv, chunks: Vec<Vec<u8>>) -> Vec<(u32, String)> {
    let ty = person_type();
    let mut out = Vec::new();
    for chunk in &chunks {
        let mut buf = &chunk[..];
        while !buf.is_empty() {
            match bsatn::decode_product_from(&ty, &mut buf) {
                Ok(p) => out.push((u32_arg(&p.elements[0]), str_arg(&p.elements[1]).to_string())),
                Err(_) => break,
            }
        }
    }
    env.row_iter_bsatn_close(chunks);
    out
}

fn add(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("id", AlgebraicType::U32), ("name", AlgebraicType::String)], a)?;
    let table = person_table(env)?;
    let id = insert_person(env, table, u32_arg(&a[0]), str_arg(&a[1]))?;
    log(env, "add", &format!("added person {id} {:?}", str_arg(&a[1])));
    Ok(())
}

fn add_many(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("n", AlgebraicType::U32), ("prefix", AlgebraicType::String)], a)?;
    let table = person_table(env)?;
    let mut ids = Vec::new();
    for i in 0..u32_arg(&a[0]) {
        ids.push(insert_person(env, table, 0, &format!("{}{i}", str_arg(&a[1])))?);
    }
    let ids: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    log(env, "add_many", &format!("added {} persons, ids [{}]", ids.len(), ids.join(",")));
    Ok(())
}

fn send_message(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("sender", AlgebraicType::U32), ("text", AlgebraicType::String)], a)?;
    let table = env.table_id_from_name(MESSAGE).map_err(|e| errno_msg("table message", e))?;
    let mut row = bsatn::to_vec(&ProductValue::new(vec![
        AlgebraicValue::U64(0),
        AlgebraicValue::U32(u32_arg(&a[0])),
        AlgebraicValue::String(str_arg(&a[1]).into()),
    ]));
    env.datastore_insert_bsatn(table, &mut row).map_err(|e| errno_msg("insert into message", e))?;
    Ok(())
}

fn insert_into(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("table_id", AlgebraicType::U32), ("id", AlgebraicType::U32), ("name", AlgebraicType::String)], a)?;
    insert_person(env, u32_arg(&a[0]), u32_arg(&a[1]), str_arg(&a[2]))?;
    Ok(())
}

fn scan(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("id", AlgebraicType::U32)], a)?;
    let id = u32_arg(&a[0]);
    let table = person_table(env)?;
    let index = env.index_id_from_name(PERSON_ID_INDEX).map_err(|e| errno_msg("index", e))?;
    let all = env.datastore_table_scan_bsatn(table).map_err(|e| errno_msg("scan person", e))?;
    let all = read_persons(env, all);
    let key = bsatn::to_vec(&ProductValue::new(vec![AlgebraicValue::U32(id)]));
    let point = env.datastore_index_scan_point_bsatn(index, &key).map_err(|e| errno_msg("seek person", e))?;
    let point = read_persons(env, point);
    let mut start = vec![0u8];
    start.extend_from_slice(&key);
    let range = env.datastore_index_scan_range_bsatn(index, &[], 0, &start, &[2]).map_err(|e| errno_msg("range person", e))?;
    let range = read_persons(env, range);
    let names: Vec<&str> = point.iter().map(|(_, n)| n.as_str()).collect();
    log(
        env,
        "scan",
        &format!("scan: {} rows; id = {id}: {} rows {:?}; id >= {id}: {} rows", all.len(), point.len(), names, range.len()),
    );
    Ok(())
}

fn say_hello(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    args(&[], a)?;
    let table = person_table(env)?;
    let chunks = env.datastore_table_scan_bsatn(table).map_err(|e| errno_msg("scan person", e))?;
    for (_, name) in read_persons(env, chunks) {
        log(env, "say_hello", &format!("Hello, {name}!"));
    }
    log(env, "say_hello", "Hello, World!");
    Ok(())
}

fn fail(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("id", AlgebraicType::U32)], a)?;
    let table = person_table(env)?;
    insert_person(env, table, u32_arg(&a[0]), "fail")?;
    Err("fail: the reducer returned an error".into())
}

fn panic_reducer(env: &mut WasmInstanceEnv, a: &[u8]) -> Result<(), Box<str>> {
    let a = args(&[("id", AlgebraicType::U32)], a)?;
    let table = person_table(env)?;
    insert_person(env, table, u32_arg(&a[0]), "panic")?;
    panic!("panic_reducer: the reducer panicked");
}

fn reducer(name: &str, params: &[(&str, AlgebraicType)], func: ReducerFn) -> ReducerDef {
    ReducerDef { name: name.into(), params: ProductType::new(params), func }
}

/// The module's tables and reducers (SpacetimeDB's `__describe_module__`).
pub fn describe_module() -> ModuleDef {
    use AlgebraicType::{String as Str, U32, U64};
    ModuleDef {
        tables: vec![
            TableDef {
                name: PERSON.into(),
                columns: vec![("id".into(), U32), ("name".into(), Str)],
                primary_key: Some(0),
                auto_inc: Some(0),
            },
            TableDef {
                name: MESSAGE.into(),
                columns: vec![("id".into(), U64), ("sender".into(), U32), ("text".into(), Str)],
                primary_key: Some(0),
                auto_inc: Some(0),
            },
        ],
        reducers: vec![
            reducer("add", &[("id", U32), ("name", Str)], add),
            reducer("add_many", &[("n", U32), ("prefix", Str)], add_many),
            reducer("send_message", &[("sender", U32), ("text", Str)], send_message),
            reducer("insert_into", &[("table_id", U32), ("id", U32), ("name", Str)], insert_into),
            reducer("scan", &[("id", U32)], scan),
            reducer("say_hello", &[], say_hello),
            reducer("fail", &[("id", U32)], fail),
            reducer("panic_reducer", &[("id", U32)], panic_reducer),
        ],
    }
}
