// SPDX-License-Identifier: MIT
//! BSATN, SpacetimeDB's binary row encoding, for the stand-in's types: a
//! product is its elements back to back; bool is one byte (0 or 1);
//! integers are little endian; a string is a u32 LE byte length then UTF-8.

use crate::{AlgebraicType, AlgebraicValue, ProductType, ProductValue};
use std::fmt;

/// Why bytes are not a value of the expected type (SpacetimeDB's
/// `spacetimedb_sats::buffer::DecodeError` has the same cases).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes left than the type needs.
    BufferLength {
        for_type: &'static str,
        expected: usize,
        given: usize,
    },
    /// A bool byte other than 0 or 1.
    InvalidBool(u8),
    /// A sum type's tag byte that names no variant.
    InvalidTag { for_type: &'static str, tag: u8 },
    /// A string that is not UTF-8.
    InvalidUtf8,
    /// Bytes left over after the last element.
    TrailingBytes(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BufferLength { for_type, expected, given } => write!(
                f,
                "data too short for {for_type}: expected {expected}, given {given}"
            ),
            DecodeError::InvalidBool(b) => write!(f, "invalid bool byte {b}"),
            DecodeError::InvalidTag { for_type, tag } => write!(f, "invalid tag {tag} for {for_type}"),
            DecodeError::InvalidUtf8 => write!(f, "invalid utf8"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the row"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Appends `value` in BSATN.
pub fn encode_value(value: &AlgebraicValue, out: &mut Vec<u8>) {
    match value {
        AlgebraicValue::Bool(b) => out.push(*b as u8),
        AlgebraicValue::U32(v) => out.extend_from_slice(&v.to_le_bytes()),
        AlgebraicValue::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        AlgebraicValue::I64(v) => out.extend_from_slice(&v.to_le_bytes()),
        AlgebraicValue::String(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// Appends every element of `row` in BSATN.
pub fn encode_product(row: &ProductValue, out: &mut Vec<u8>) {
    for v in &row.elements {
        encode_value(v, out);
    }
}

/// `row` in BSATN, as a new buffer.
pub fn to_vec(row: &ProductValue) -> Vec<u8> {
    let mut out = Vec::new();
    encode_product(row, &mut out);
    out
}

fn take<'a>(buf: &mut &'a [u8], n: usize, for_type: &'static str) -> Result<&'a [u8], DecodeError> {
    if buf.len() < n {
        return Err(DecodeError::BufferLength { for_type, expected: n, given: buf.len() });
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

/// Reads one value of type `ty` from the front of `buf` and advances it.
pub fn decode_value(ty: AlgebraicType, buf: &mut &[u8]) -> Result<AlgebraicValue, DecodeError> {
    let mut word = [0u8; 8];
    match ty {
        AlgebraicType::Bool => match take(buf, 1, "bool")?[0] {
            0 => Ok(AlgebraicValue::Bool(false)),
            1 => Ok(AlgebraicValue::Bool(true)),
            b => Err(DecodeError::InvalidBool(b)),
        },
        AlgebraicType::U32 => {
            word[..4].copy_from_slice(take(buf, 4, "u32")?);
            Ok(AlgebraicValue::U32(u32::from_le_bytes([word[0], word[1], word[2], word[3]])))
        }
        AlgebraicType::U64 => {
            word.copy_from_slice(take(buf, 8, "u64")?);
            Ok(AlgebraicValue::U64(u64::from_le_bytes(word)))
        }
        AlgebraicType::I64 => {
            word.copy_from_slice(take(buf, 8, "i64")?);
            Ok(AlgebraicValue::I64(i64::from_le_bytes(word)))
        }
        AlgebraicType::String => {
            let len = take(buf, 4, "string length")?;
            let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
            let bytes = take(buf, len, "string")?;
            let s = std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
            Ok(AlgebraicValue::String(s.into()))
        }
    }
}

/// Reads one row of type `ty` from the front of `buf` and advances it
/// (rows packed back to back, as scans return them).
pub fn decode_product_from(ty: &ProductType, buf: &mut &[u8]) -> Result<ProductValue, DecodeError> {
    let mut elements = Vec::with_capacity(ty.elements.len());
    for col in &ty.elements {
        elements.push(decode_value(col.algebraic_type, buf)?);
    }
    Ok(ProductValue { elements })
}

/// Reads a whole row of type `ty`; every byte of `bytes` must belong to it.
pub fn decode_product(ty: &ProductType, bytes: &[u8]) -> Result<ProductValue, DecodeError> {
    let mut buf = bytes;
    let ProductValue { elements } = decode_product_from(ty, &mut buf)?;
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()));
    }
    Ok(ProductValue { elements })
}
