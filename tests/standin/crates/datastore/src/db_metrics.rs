// SPDX-License-Identifier: MIT
//! Prometheus-style counters with labels, and the datastore's own
//! (`DB_METRICS`, names as in SpacetimeDB's `db_metrics`). Any thread may
//! increment or encode; each family is one mutex-guarded list.

use std::sync::Mutex;

/// One counter name with a fixed list of label names and one value per
/// label set.
pub struct CounterFamily {
    pub name: &'static str,
    pub help: &'static str,
    pub label_names: &'static [&'static str],
    values: Mutex<Vec<(Vec<String>, u64)>>,
}

impl CounterFamily {
    pub const fn new(name: &'static str, help: &'static str, label_names: &'static [&'static str]) -> Self {
        CounterFamily { name, help, label_names, values: Mutex::new(Vec::new()) }
    }

    /// Adds `n` to the counter of `labels` (one value per label name).
    pub fn inc_by(&self, labels: &[&str], n: u64) {
        let mut values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = values.iter_mut().find(|(l, _)| l.iter().map(|s| s.as_str()).eq(labels.iter().copied())) {
            entry.1 += n;
            return;
        }
        values.push((labels.iter().map(|s| s.to_string()).collect(), n));
    }

    pub fn inc(&self, labels: &[&str]) {
        self.inc_by(labels, 1)
    }

    /// Appends the family in the Prometheus text format.
    pub fn encode(&self, out: &mut String) {
        out.push_str(&format!("# HELP {} {}\n# TYPE {} counter\n", self.name, self.help, self.name));
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        for (labels, v) in values.iter() {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, val)) in self.label_names.iter().zip(labels).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    for ch in val.chars() {
                        match ch {
                            '\\' => out.push_str("\\\\"),
                            '"' => out.push_str("\\\""),
                            '\n' => out.push_str("\\n"),
                            c => out.push(c),
                        }
                    }
                    out.push('"');
                }
                out.push('}');
            }
            out.push_str(&format!(" {v}\n"));
        }
    }
}

pub struct DbMetrics {
    pub num_txns_total: CounterFamily,
    pub num_rows_inserted_total: CounterFamily,
    pub num_rows_deleted_total: CounterFamily,
}

impl DbMetrics {
    pub fn encode(&self, out: &mut String) {
        self.num_txns_total.encode(out);
        self.num_rows_inserted_total.encode(out);
        self.num_rows_deleted_total.encode(out);
    }
}

/// The datastore's counters, updated when a transaction commits or rolls back.
pub static DB_METRICS: DbMetrics = DbMetrics {
    num_txns_total: CounterFamily::new(
        "spacetime_num_txns_total",
        "The total number of transactions",
        &["txn_type", "db", "reducer", "committed"],
    ),
    num_rows_inserted_total: CounterFamily::new(
        "spacetime_num_rows_inserted_total",
        "The cumulative number of rows inserted into a table",
        &["txn_type", "db", "reducer_or_query", "table_id", "table_name"],
    ),
    num_rows_deleted_total: CounterFamily::new(
        "spacetime_num_rows_deleted_total",
        "The cumulative number of rows deleted from a table",
        &["txn_type", "db", "reducer_or_query", "table_id", "table_name"],
    ),
};
