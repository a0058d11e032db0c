// SPDX-License-Identifier: MIT
//! auto_inc sequences. Values are handed out from a block recorded in
//! `st_sequence`; when a block runs out, the row is rewritten with a new
//! bound (through `mut_tx::insert::<false>`). Like SpacetimeDB's, sequence
//! values are not given back when a transaction rolls back.

use super::committed_state::CommittedState;
use super::mut_tx;
use super::tx_state::TxState;
use crate::error::{DatastoreError, Result, SequenceError};
use crate::system_tables::{st_sequence_row, SEQUENCE_ALLOCATION_STEP, ST_SEQUENCE_ID, ST_SEQUENCE_IDX};
use spacetimedb_primitives::{ColId, SequenceId, TableId};
use spacetimedb_sats::{bsatn, AlgebraicValue};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Sequence {
    pub table_id: TableId,
    pub col: ColId,
    /// The next value to hand out.
    pub value: u64,
    /// Values below this are recorded as allocated in `st_sequence`.
    pub allocated: u64,
}

#[derive(Debug, Default)]
pub struct SequencesState {
    pub(crate) sequences: BTreeMap<SequenceId, Sequence>,
}

impl SequencesState {
    pub fn add(&mut self, id: SequenceId, seq: Sequence) {
        self.sequences.insert(id, seq);
    }
}

/// The next value of sequence `id`, rewriting its `st_sequence` row in
/// `tx_state` when a new block is needed.
pub(super) fn next_value(
    tx_state: &mut TxState,
    committed_state: &CommittedState,
    seq_state: &mut SequencesState,
    id: SequenceId,
) -> Result<u64> {
    let (table_id, col, value, allocated) = match seq_state.sequences.get(&id) {
        Some(s) => (s.table_id, s.col, s.value, s.allocated),
        None => return Err(DatastoreError::Sequence(SequenceError::NotFound(id))),
    };
    if value >= allocated {
        let new_allocated = allocated
            .checked_add(SEQUENCE_ALLOCATION_STEP)
            .ok_or(DatastoreError::Sequence(SequenceError::Overflow(id)))?;
        // The old row goes: from this transaction's inserts if an earlier
        // block was taken in it, else from the committed rows.
        let key = AlgebraicValue::U32(id.0);
        let pending = tx_state
            .insert_tables
            .get(&ST_SEQUENCE_ID)
            .and_then(|t| t.index_seek_point(ST_SEQUENCE_IDX, &key))
            .map(|r| r.pointer());
        match pending {
            Some(p) => {
                if let Some(t) = tx_state.insert_tables.get_mut(&ST_SEQUENCE_ID) {
                    t.delete(p);
                }
            }
            None => {
                let committed = committed_state
                    .get_table(ST_SEQUENCE_ID)
                    .and_then(|t| t.index_seek_point(ST_SEQUENCE_IDX, &key))
                    .map(|r| r.pointer());
                if let Some(p) = committed {
                    tx_state.delete_tables.entry(ST_SEQUENCE_ID).or_default().insert(p);
                }
            }
        }
        let row = bsatn::to_vec(&st_sequence_row(id, table_id, col, new_allocated));
        mut_tx::insert::<false>(tx_state, committed_state, seq_state, ST_SEQUENCE_ID, &row)?;
        if let Some(s) = seq_state.sequences.get_mut(&id) {
            s.allocated = new_allocated;
        }
    }
    if let Some(s) = seq_state.sequences.get_mut(&id) {
        s.value = value + 1;
    }
    Ok(value)
}
