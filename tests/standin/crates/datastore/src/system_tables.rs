// SPDX-License-Identifier: MIT
//! The one system table the stand-in keeps: `st_sequence`, one row per
//! auto_inc sequence with the upper bound of the values handed out so far.
//! Allocating a new block of values rewrites the row through
//! `mut_tx::insert::<false>` (no generation for system rows), as in
//! SpacetimeDB. The ids are the stand-in's choice.

use spacetimedb_primitives::{ColId, IndexId, SequenceId, TableId};
use spacetimedb_sats::{AlgebraicType, AlgebraicValue, ProductType, ProductValue};
use spacetimedb_table::table::{IndexSchema, TableSchema};

pub const ST_SEQUENCE_ID: TableId = TableId(3);
pub const ST_SEQUENCE_IDX: IndexId = IndexId(3);
pub const ST_SEQUENCE_NAME: &str = "st_sequence";

/// Values handed out per `st_sequence` update.
pub const SEQUENCE_ALLOCATION_STEP: u64 = 4096;

pub fn st_sequence_schema() -> TableSchema {
    TableSchema {
        table_id: ST_SEQUENCE_ID,
        table_name: ST_SEQUENCE_NAME.into(),
        row_type: ProductType::new(&[
            ("sequence_id", AlgebraicType::U32),
            ("table_id", AlgebraicType::U32),
            ("col_pos", AlgebraicType::U32),
            ("allocated", AlgebraicType::U64),
        ]),
        primary_key: Some(ColId(0)),
        indexes: vec![IndexSchema { index_id: ST_SEQUENCE_IDX, index_name: "st_sequence_sequence_id_idx_btree".into(), col: ColId(0) }],
        sequences: Vec::new(),
    }
}

/// The `st_sequence` row of a sequence.
pub fn st_sequence_row(sequence_id: SequenceId, table_id: TableId, col: ColId, allocated: u64) -> ProductValue {
    ProductValue::new(vec![
        AlgebraicValue::U32(sequence_id.0),
        AlgebraicValue::U32(table_id.0),
        AlgebraicValue::U32(col.0 as u32),
        AlgebraicValue::U64(allocated),
    ])
}
