// SPDX-License-Identifier: MIT
//! What a transaction is for, used to label metrics.

/// The reducer a transaction runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReducerContext {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    Reducer(ReducerContext),
    Sql,
    Subscribe,
    Internal,
}

impl Workload {
    /// The `txn_type` label of SpacetimeDB's transaction metrics.
    pub fn txn_type(&self) -> &'static str {
        match self {
            Workload::Reducer(_) => "Reducer",
            Workload::Sql => "Sql",
            Workload::Subscribe => "Subscribe",
            Workload::Internal => "Internal",
        }
    }

    /// The `reducer_or_query` / `reducer` label.
    pub fn reducer_name(&self) -> &str {
        match self {
            Workload::Reducer(ctx) => &ctx.name,
            _ => "",
        }
    }
}
