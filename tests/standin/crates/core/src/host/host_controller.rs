// SPDX-License-Identifier: MIT
//! `HostController`: the databases this node runs, by name and identity.
//! Launching one creates its tables from the module's definition (ids
//! from 4096 on, like user tables in SpacetimeDB) and starts its host.
//! Creating tables touches no hooked function, so a tracer counts nothing
//! before the first request.

use crate::database_logger::DatabaseLogger;
use crate::db::RelationalDB;
use crate::host::module_def::ModuleDef;
use crate::host::module_host::{ModuleHost, ModuleInfo};
use crate::host::wasmtime::wasmtime_module::WasmtimeModule;
use crate::identity::Identity;
use crate::replica_context::{Database, ReplicaContext};
use crate::subscription::module_subscription_actor::ModuleSubscriptions;
use spacetimedb_primitives::{ColId, IndexId, SequenceId, TableId, ST_RESERVED_SEQUENCE_RANGE};
use spacetimedb_sats::{ProductType, ProductTypeElement};
use spacetimedb_table::table::{IndexSchema, SequenceSchema, TableSchema};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub struct HostController {
    data_dir: PathBuf,
    hosts: Mutex<Vec<ModuleHost>>,
}

impl HostController {
    pub fn new(data_dir: PathBuf) -> Self {
        HostController { data_dir, hosts: Mutex::new(Vec::new()) }
    }

    /// Creates database `name` owned by `owner` running `module_def`, and
    /// starts its executor thread.
    pub fn launch_database(&self, name: &str, owner: Identity, module_def: ModuleDef) -> std::io::Result<ModuleHost> {
        let database_identity = Identity::from_name(name);
        let relational_db = Arc::new(RelationalDB::new(database_identity, owner));
        let mut next_id = ST_RESERVED_SEQUENCE_RANGE;
        let mut schemas = Vec::new();
        for def in &module_def.tables {
            let id = next_id;
            next_id += 1;
            let row_type = ProductType {
                elements: def
                    .columns
                    .iter()
                    .map(|(n, t)| ProductTypeElement { name: Some(n.clone()), algebraic_type: *t })
                    .collect(),
            };
            let col_name = |c: u16| def.columns[c as usize].0.clone();
            let schema = TableSchema {
                table_id: TableId(id),
                table_name: def.name.clone(),
                row_type,
                primary_key: def.primary_key.map(ColId),
                indexes: def
                    .primary_key
                    .map(|c| IndexSchema {
                        index_id: IndexId(id),
                        index_name: format!("{}_{}_idx_btree", def.name, col_name(c)).into(),
                        col: ColId(c),
                    })
                    .into_iter()
                    .collect(),
                sequences: def.auto_inc.map(|c| SequenceSchema { sequence_id: SequenceId(id), col: ColId(c) }).into_iter().collect(),
            };
            relational_db.create_table(schema.clone());
            schemas.push(schema);
        }

        let replica_id = 1 + self.hosts.lock().unwrap_or_else(|e| e.into_inner()).len() as u64;
        let logs_dir = self.data_dir.join("replicas").join(replica_id.to_string()).join("module_logs");
        let logger = Arc::new(DatabaseLogger::open(Some(&logs_dir)));
        let subscriptions = ModuleSubscriptions::new(relational_db.clone(), &schemas);
        let replica_ctx = Arc::new(ReplicaContext {
            database: Database { database_identity, owner_identity: owner, name: name.into() },
            replica_id,
            relational_db,
            logger: logger.clone(),
            subscriptions: subscriptions.clone(),
        });
        let module_def = Arc::new(module_def);
        let info = Arc::new(ModuleInfo {
            module_def: module_def.clone(),
            database_identity,
            owner_identity: owner,
            module_hash: Identity::from_name(&format!("module:{name}")).to_hex().into(),
            subscriptions,
        });
        let host = ModuleHost::launch(WasmtimeModule::new(module_def), replica_ctx, info)?;
        logger.system(&format!("Database {name} ({database_identity}) initialized"));
        self.hosts.lock().unwrap_or_else(|e| e.into_inner()).push(host.clone());
        Ok(host)
    }

    /// The database named `name_or_identity`, or whose identity (hex) it is.
    pub fn find(&self, name_or_identity: &str) -> Option<ModuleHost> {
        let id = Identity::from_hex(name_or_identity);
        self.hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|h| {
                let db = &h.replica_ctx().database;
                &*db.name == name_or_identity || Some(db.database_identity) == id
            })
            .cloned()
    }

    /// Stops every database's executor thread.
    pub fn shutdown_all(&self) {
        let hosts: Vec<ModuleHost> = self.hosts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for h in hosts {
            h.exit();
        }
    }
}
