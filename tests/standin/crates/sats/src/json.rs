// SPDX-License-Identifier: MIT
//! JSON for reducer arguments (the body of `POST .../call/{reducer}` is a
//! JSON array) and for SQL results. The parser takes RFC 8259 JSON; numbers
//! are kept as integers only (the stand-in has no float columns).

use crate::{AlgebraicType, AlgebraicValue};

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonValue {
    Null,
    Bool(bool),
    /// An integer that fits i128; a fraction or exponent is a parse error.
    Int(i128),
    String(String),
    Array(Vec<JsonValue>),
    Object(Vec<(String, JsonValue)>),
}

/// Where and why a document is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub message: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    depth: usize,
}

/// Deeper nesting than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 64;

impl<'a> Parser<'a> {
    fn err<T>(&self, message: &'static str) -> Result<T, JsonError> {
        Err(JsonError { offset: self.at, message })
    }

    fn skip_ws(&mut self) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, v: JsonValue) -> Result<JsonValue, JsonError> {
        if self.s[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(v)
        } else {
            self.err("unknown literal")
        }
    }

    fn value(&mut self) -> Result<JsonValue, JsonError> {
        self.skip_ws();
        if self.at >= self.s.len() {
            return self.err("unexpected end");
        }
        match self.s[self.at] {
            b'n' => self.literal("null", JsonValue::Null),
            b't' => self.literal("true", JsonValue::Bool(true)),
            b'f' => self.literal("false", JsonValue::Bool(false)),
            b'"' => self.string().map(JsonValue::String),
            b'[' => {
                self.enter()?;
                self.at += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(JsonValue::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.skip_ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            self.depth -= 1;
                            return Ok(JsonValue::Array(items));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            b'{' => {
                self.enter()?;
                self.at += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.s.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    self.depth -= 1;
                    return Ok(JsonValue::Object(members));
                }
                loop {
                    self.skip_ws();
                    if self.s.get(self.at) != Some(&b'"') {
                        return self.err("expected a member name");
                    }
                    let key = self.string()?;
                    self.skip_ws();
                    if self.s.get(self.at) != Some(&b':') {
                        return self.err("expected :");
                    }
                    self.at += 1;
                    members.push((key, self.value()?));
                    self.skip_ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            self.depth -= 1;
                            return Ok(JsonValue::Object(members));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            b'-' | b'0'..=b'9' => self.number(),
            _ => self.err("unexpected character"),
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        Ok(())
    }

    fn number(&mut self) -> Result<JsonValue, JsonError> {
        let start = self.at;
        if self.s[self.at] == b'-' {
            self.at += 1;
        }
        let digits = self.at;
        while self.at < self.s.len() && self.s[self.at].is_ascii_digit() {
            self.at += 1;
        }
        if self.at == digits {
            return self.err("expected a digit");
        }
        if self.s[digits] == b'0' && self.at - digits > 1 {
            return self.err("leading zero");
        }
        if matches!(self.s.get(self.at), Some(b'.') | Some(b'e') | Some(b'E')) {
            return self.err("only integers are supported");
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
        match text.parse::<i128>() {
            Ok(v) => Ok(JsonValue::Int(v)),
            Err(_) => self.err("integer out of range"),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        if self.at + 4 > self.s.len() {
            return self.err("short \\u escape");
        }
        let text = std::str::from_utf8(&self.s[self.at..self.at + 4]).unwrap_or("x");
        match u32::from_str_radix(text, 16) {
            Ok(v) => {
                self.at += 4;
                Ok(v)
            }
            Err(_) => self.err("bad \\u escape"),
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.at;
            while self.at < self.s.len() && !matches!(self.s[self.at], b'"' | b'\\' | 0..=0x1f) {
                self.at += 1;
            }
            match std::str::from_utf8(&self.s[start..self.at]) {
                Ok(run) => out.push_str(run),
                Err(_) => return self.err("invalid UTF-8 in string"),
            }
            match self.s.get(self.at) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let c = match self.s.get(self.at) {
                        Some(c) => *c,
                        None => return self.err("unterminated escape"),
                    };
                    self.at += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) {
                                if !self.s[self.at..].starts_with(b"\\u") {
                                    return self.err("lone surrogate");
                                }
                                self.at += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return self.err("bad surrogate pair");
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            match char::from_u32(code) {
                                Some(ch) => out.push(ch),
                                None => return self.err("lone surrogate"),
                            }
                        }
                        _ => return self.err("unknown escape"),
                    }
                }
                Some(_) => return self.err("control character in string"),
            }
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(text: &[u8]) -> Result<JsonValue, JsonError> {
    let mut p = Parser { s: text, at: 0, depth: 0 };
    let v = p.value()?;
    p.skip_ws();
    if p.at != p.s.len() {
        return p.err("trailing characters");
    }
    Ok(v)
}

/// `v` as a value of column type `ty`, or why not.
pub fn to_algebraic(v: &JsonValue, ty: AlgebraicType) -> Result<AlgebraicValue, String> {
    let out_of_range = |n: &i128| format!("{n} is out of range for {}", ty.sats_name());
    match (ty, v) {
        (AlgebraicType::Bool, JsonValue::Bool(b)) => Ok(AlgebraicValue::Bool(*b)),
        (AlgebraicType::U32, JsonValue::Int(n)) => {
            u32::try_from(*n).map(AlgebraicValue::U32).map_err(|_| out_of_range(n))
        }
        (AlgebraicType::U64, JsonValue::Int(n)) => {
            u64::try_from(*n).map(AlgebraicValue::U64).map_err(|_| out_of_range(n))
        }
        (AlgebraicType::I64, JsonValue::Int(n)) => {
            i64::try_from(*n).map(AlgebraicValue::I64).map_err(|_| out_of_range(n))
        }
        (AlgebraicType::String, JsonValue::String(s)) => Ok(AlgebraicValue::String(s.as_str().into())),
        _ => Err(format!("expected a JSON value of type {}", ty.sats_name())),
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `v` as JSON (integers as numbers, as SpacetimeDB's SQL route does
/// for 32- and 64-bit columns).
pub fn write_value(v: &AlgebraicValue, out: &mut String) {
    match v {
        AlgebraicValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        AlgebraicValue::U32(n) => out.push_str(&n.to_string()),
        AlgebraicValue::U64(n) => out.push_str(&n.to_string()),
        AlgebraicValue::I64(n) => out.push_str(&n.to_string()),
        AlgebraicValue::String(s) => write_string(s, out),
    }
}
