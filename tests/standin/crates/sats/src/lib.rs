// SPDX-License-Identifier: MIT
//! spacetimedb_sats (stand-in): the value model (a subset of SATS: bool,
//! u32, u64, i64, string, products) and its two encodings, BSATN (binary,
//! little endian, strings as u32 length + UTF-8) and JSON.
//! Pure code: no I/O, no globals.

pub mod bsatn;
pub mod identity;
pub mod json;

use std::fmt;

/// The column types the stand-in supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlgebraicType {
    Bool,
    U32,
    U64,
    I64,
    String,
}

impl AlgebraicType {
    /// The name SpacetimeDB's JSON schema uses for the type (`{"U32": []}`).
    pub fn sats_name(&self) -> &'static str {
        match self {
            AlgebraicType::Bool => "Bool",
            AlgebraicType::U32 => "U32",
            AlgebraicType::U64 => "U64",
            AlgebraicType::I64 => "I64",
            AlgebraicType::String => "String",
        }
    }
}

/// One value. Ord so that values can key a unique index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlgebraicValue {
    Bool(bool),
    U32(u32),
    U64(u64),
    I64(i64),
    String(Box<str>),
}

impl AlgebraicValue {
    pub fn type_of(&self) -> AlgebraicType {
        match self {
            AlgebraicValue::Bool(_) => AlgebraicType::Bool,
            AlgebraicValue::U32(_) => AlgebraicType::U32,
            AlgebraicValue::U64(_) => AlgebraicType::U64,
            AlgebraicValue::I64(_) => AlgebraicType::I64,
            AlgebraicValue::String(_) => AlgebraicType::String,
        }
    }

    /// The zero of an integer type: the value an auto_inc column holds
    /// when the caller asks the database to generate it.
    pub fn is_integer_zero(&self) -> bool {
        matches!(
            self,
            AlgebraicValue::U32(0) | AlgebraicValue::U64(0) | AlgebraicValue::I64(0)
        )
    }

    /// An integer of type `ty` from a generated sequence value; None when it
    /// does not fit or `ty` is not an integer type.
    pub fn from_sequence_value(ty: AlgebraicType, v: u64) -> Option<AlgebraicValue> {
        match ty {
            AlgebraicType::U32 => u32::try_from(v).ok().map(AlgebraicValue::U32),
            AlgebraicType::U64 => Some(AlgebraicValue::U64(v)),
            AlgebraicType::I64 => i64::try_from(v).ok().map(AlgebraicValue::I64),
            _ => None,
        }
    }
}

impl fmt::Display for AlgebraicValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlgebraicValue::Bool(b) => write!(f, "{b}"),
            AlgebraicValue::U32(v) => write!(f, "{v}"),
            AlgebraicValue::U64(v) => write!(f, "{v}"),
            AlgebraicValue::I64(v) => write!(f, "{v}"),
            AlgebraicValue::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// A row: one value per column, in column order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductValue {
    pub elements: Vec<AlgebraicValue>,
}

impl ProductValue {
    pub fn new(elements: Vec<AlgebraicValue>) -> Self {
        ProductValue { elements }
    }
}

/// One named column of a product type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductTypeElement {
    pub name: Option<Box<str>>,
    pub algebraic_type: AlgebraicType,
}

/// A row type.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProductType {
    pub elements: Vec<ProductTypeElement>,
}

impl ProductType {
    pub fn new(columns: &[(&str, AlgebraicType)]) -> Self {
        ProductType {
            elements: columns
                .iter()
                .map(|(name, ty)| ProductTypeElement {
                    name: Some((*name).into()),
                    algebraic_type: *ty,
                })
                .collect(),
        }
    }
}
