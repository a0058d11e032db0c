// SPDX-License-Identifier: MIT
//! `WasmInstanceEnv`: the ABI a module's reducers call (SpacetimeDB's WASM
//! imports), turning NodesErrors into errno codes. Each call is thin and
//! forwards to `InstanceEnv`; under thin LTO these are inlined, as the
//! real ones may be into wasmtime's shims, so they are not hook points.

use crate::database_logger::LogLevel;
use crate::energy::ENERGY_PER_HOST_CALL;
use crate::error::NodesError;
use crate::host::instance_env::{ChunkPool, InstanceEnv};
use crate::host::Timestamp;
use crate::identity::Identity;
use spacetimedb_primitives::{ColId, IndexId, TableId};

/// An ABI error code (names as SpacetimeDB's `errno` list; the numbers are
/// the stand-in's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub u16);

impl Errno {
    pub const HOST_CALL_FAILURE: Errno = Errno(1);
    pub const NOT_IN_TRANSACTION: Errno = Errno(2);
    pub const BSATN_DECODE_ERROR: Errno = Errno(3);
    pub const NO_SUCH_TABLE: Errno = Errno(4);
    pub const NO_SUCH_INDEX: Errno = Errno(5);
    pub const UNIQUE_ALREADY_EXISTS: Errno = Errno(12);

    pub fn name(&self) -> &'static str {
        match *self {
            Errno::HOST_CALL_FAILURE => "HOST_CALL_FAILURE",
            Errno::NOT_IN_TRANSACTION => "NOT_IN_TRANSACTION",
            Errno::BSATN_DECODE_ERROR => "BSATN_DECODE_ERROR",
            Errno::NO_SUCH_TABLE => "NO_SUCH_TABLE",
            Errno::NO_SUCH_INDEX => "NO_SUCH_INDEX",
            Errno::UNIQUE_ALREADY_EXISTS => "UNIQUE_ALREADY_EXISTS",
            _ => "UNKNOWN",
        }
    }
}

impl From<&NodesError> for Errno {
    fn from(e: &NodesError) -> Self {
        match e {
            NodesError::NotInTransaction => Errno::NOT_IN_TRANSACTION,
            NodesError::DecodeRow(_) | NodesError::DecodeValue(_) => Errno::BSATN_DECODE_ERROR,
            NodesError::TableNotFound => Errno::NO_SUCH_TABLE,
            NodesError::IndexNotFound | NodesError::BadIndexType(_) => Errno::NO_SUCH_INDEX,
            NodesError::AlreadyExists(_) => Errno::UNIQUE_ALREADY_EXISTS,
            NodesError::Internal(_) => Errno::HOST_CALL_FAILURE,
        }
    }
}

pub struct WasmInstanceEnv {
    instance_env: InstanceEnv,
    chunk_pool: ChunkPool,
    caller_identity: Identity,
    timestamp: Timestamp,
    host_calls: u64,
}

impl WasmInstanceEnv {
    pub fn new(instance_env: InstanceEnv) -> Self {
        WasmInstanceEnv {
            instance_env,
            chunk_pool: ChunkPool::default(),
            caller_identity: Identity::ZERO,
            timestamp: Timestamp::default(),
            host_calls: 0,
        }
    }

    pub fn instance_env(&self) -> &InstanceEnv {
        &self.instance_env
    }

    /// Called by the host before a reducer runs.
    pub(crate) fn start_reducer(&mut self, caller_identity: Identity, timestamp: Timestamp) {
        self.caller_identity = caller_identity;
        self.timestamp = timestamp;
        self.host_calls = 0;
    }

    /// The number of host calls and the energy they used since start_reducer.
    pub(crate) fn finish_reducer(&mut self) -> (u64, u64) {
        (self.host_calls, self.host_calls * ENERGY_PER_HOST_CALL)
    }

    fn cvt<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, NodesError>) -> Result<T, Errno> {
        self.host_calls += 1;
        f(self).map_err(|e| Errno::from(&e))
    }

    pub fn caller_identity(&self) -> Identity {
        self.caller_identity
    }

    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    pub fn table_id_from_name(&mut self, name: &str) -> Result<u32, Errno> {
        self.cvt(|env| env.instance_env.table_id_from_name(name).map(|id| id.0))
    }

    pub fn index_id_from_name(&mut self, name: &str) -> Result<u32, Errno> {
        self.cvt(|env| env.instance_env.index_id_from_name(name).map(|id| id.0))
    }

    pub fn datastore_table_row_count(&mut self, table_id: u32) -> Result<u64, Errno> {
        self.cvt(|env| env.instance_env.datastore_table_row_count(TableId(table_id)))
    }

    /// Inserts the row in `row` (BSATN; auto_inc values are written back).
    pub fn datastore_insert_bsatn(&mut self, table_id: u32, row: &mut [u8]) -> Result<u32, Errno> {
        self.cvt(|env| env.instance_env.insert(TableId(table_id), row).map(|n| n as u32))
    }

    /// The chunks of a full scan; give them back with `row_iter_bsatn_close`.
    pub fn datastore_table_scan_bsatn(&mut self, table_id: u32) -> Result<Vec<Vec<u8>>, Errno> {
        self.cvt(|env| {
            let WasmInstanceEnv { instance_env, chunk_pool, .. } = env;
            instance_env.datastore_table_scan_bsatn_chunks(chunk_pool, TableId(table_id))
        })
    }

    pub fn datastore_index_scan_point_bsatn(&mut self, index_id: u32, point: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
        self.cvt(|env| {
            let WasmInstanceEnv { instance_env, chunk_pool, .. } = env;
            instance_env.datastore_index_scan_point_bsatn_chunks(chunk_pool, IndexId(index_id), point)
        })
    }

    pub fn datastore_index_scan_range_bsatn(
        &mut self,
        index_id: u32,
        prefix: &[u8],
        prefix_elems: u16,
        rstart: &[u8],
        rend: &[u8],
    ) -> Result<Vec<Vec<u8>>, Errno> {
        self.cvt(|env| {
            let WasmInstanceEnv { instance_env, chunk_pool, .. } = env;
            instance_env.datastore_index_scan_range_bsatn_chunks(
                chunk_pool,
                IndexId(index_id),
                prefix,
                ColId(prefix_elems),
                rstart,
                rend,
            )
        })
    }

    pub fn row_iter_bsatn_close(&mut self, chunks: Vec<Vec<u8>>) {
        self.chunk_pool.put(chunks)
    }

    pub fn console_log(&mut self, level: LogLevel, target: Option<&str>, message: &str) {
        self.host_calls += 1;
        self.instance_env.console_log(level, target, message)
    }
}
