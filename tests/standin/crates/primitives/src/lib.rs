// SPDX-License-Identifier: MIT
//! spacetimedb_primitives (stand-in): the id newtypes. As in SpacetimeDB,
//! every id is `#[repr(transparent)]` over an integer, so it travels in one
//! 32-bit (or 16-bit) register.

use std::fmt;

macro_rules! system_id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[repr(transparent)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                $name(v)
            }
        }
    };
}

system_id!(
    /// A table's id; user tables start at 4096, below are system tables.
    TableId(u32)
);
system_id!(
    /// An index's id (a separate numbering from tables).
    IndexId(u32)
);
system_id!(
    /// A sequence (auto_inc generator) id.
    SequenceId(u32)
);
system_id!(
    /// A reducer's position in its module's definition.
    ReducerId(u32)
);
system_id!(
    /// A column's position in its table.
    ColId(u16)
);

/// A set of column positions (at most 64 columns), e.g. the columns an
/// insert generated. SpacetimeDB's is a packed list; a bit set is enough here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ColList(pub u64);

impl ColList {
    pub fn empty() -> Self {
        ColList(0)
    }

    pub fn push(&mut self, col: ColId) {
        self.0 |= 1u64 << (col.0 as u64 & 63);
    }

    pub fn contains(&self, col: ColId) -> bool {
        self.0 & (1u64 << (col.0 as u64 & 63)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

/// The first table id a user table gets, as in SpacetimeDB.
pub const ST_RESERVED_SEQUENCE_RANGE: u32 = 4096;
