// SPDX-License-Identifier: MIT
//! The locking transactional datastore: committed state, one transaction's
//! pending changes (`TxState`), sequences, and the mutable and read-only
//! transactions over them.

pub mod committed_state;
pub mod datastore;
pub mod mut_tx;
pub mod sequence;
pub mod tx;
pub mod tx_state;

pub use mut_tx::MutTxId;
pub use tx::TxId;
