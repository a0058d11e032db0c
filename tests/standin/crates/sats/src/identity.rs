// SPDX-License-Identifier: MIT
//! Identities (256-bit, shown as 64 hex digits) and the authorization
//! context of a query: the database owner and the caller.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Identity(pub [u8; 32]);

impl Identity {
    pub const ZERO: Identity = Identity([0; 32]);

    /// A stable identity derived from a name (FNV-1a over the name, four
    /// lanes): the stand-in has no keys to derive real ones from.
    pub fn from_name(name: &str) -> Identity {
        let mut out = [0u8; 32];
        for (lane, chunk) in out.chunks_mut(8).enumerate() {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (lane as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for &b in name.as_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            chunk.copy_from_slice(&h.to_be_bytes());
        }
        Identity(out)
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Option<Identity> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Identity(out))
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.to_hex())
    }
}

/// Who runs a query against whose database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthCtx {
    pub owner: Identity,
    pub caller: Identity,
}

impl AuthCtx {
    pub fn for_current(owner: Identity) -> Self {
        AuthCtx { owner, caller: owner }
    }
}
