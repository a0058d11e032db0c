// SPDX-License-Identifier: MIT
//! WebSocket (RFC 6455) for the subscribe route: the handshake's
//! `Sec-WebSocket-Accept` (SHA-1 and base64, written here: std has
//! neither), and an echo loop over frames. The loop runs on the
//! connection's thread after the 101 response.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// SHA-1 (FIPS 180-4) of `data`.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (hv, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hv = hv.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 section 4).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity((data.len() + 2) / 3 * 4);
    for chunk in data.chunks(3) {
        let n = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { B64[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { B64[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Decodes padded standard base64; None if it is not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if b.len() % 4 != 0 {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let mut out = Vec::new();
    for (q, quad) in b.chunks(4).enumerate() {
        let last = q == b.len() / 4 - 1;
        let pads = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pads] {
            n = n << 6 | val(c)?;
        }
        n <<= 6 * pads as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pads]);
    }
    Some(out)
}

/// The GUID RFC 6455 appends to the client's key.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    base64_encode(&sha1(format!("{key}{WS_GUID}").as_bytes()))
}

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xa;

/// A message may take this many bytes.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;

pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
pub const CLOSE_TOO_BIG: u16 = 1009;

struct Frame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

enum FrameError {
    Io,
    Close(u16),
}

impl From<io::Error> for FrameError {
    fn from(_: io::Error) -> Self {
        FrameError::Io
    }
}

fn read_frame(r: &mut impl Read) -> Result<Frame, FrameError> {
    let mut hdr = [0u8; 2];
    r.read_exact(&mut hdr)?;
    let fin = hdr[0] & 0x80 != 0;
    if hdr[0] & 0x70 != 0 {
        return Err(FrameError::Close(CLOSE_PROTOCOL_ERROR)); // no extension was agreed
    }
    let opcode = hdr[0] & 0x0f;
    let masked = hdr[1] & 0x80 != 0;
    let mut len = (hdr[1] & 0x7f) as u64;
    if len == 126 {
        let mut b = [0u8; 2];
        r.read_exact(&mut b)?;
        len = u16::from_be_bytes(b) as u64;
    } else if len == 127 {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)?;
        len = u64::from_be_bytes(b);
        if len >> 63 != 0 {
            return Err(FrameError::Close(CLOSE_PROTOCOL_ERROR));
        }
    }
    if !masked {
        return Err(FrameError::Close(CLOSE_PROTOCOL_ERROR)); // clients must mask
    }
    if opcode >= 0x8 && (len > 125 || !fin) {
        return Err(FrameError::Close(CLOSE_PROTOCOL_ERROR));
    }
    if !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(FrameError::Close(CLOSE_PROTOCOL_ERROR));
    }
    if len > MAX_MESSAGE as u64 {
        return Err(FrameError::Close(CLOSE_TOO_BIG));
    }
    let mut mask = [0u8; 4];
    r.read_exact(&mut mask)?;
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload)?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    Ok(Frame { fin, opcode, payload })
}

/// One unmasked, final frame (servers do not mask).
fn write_frame(w: &mut impl Write, opcode: u8, payload: &[u8]) -> io::Result<()> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    w.write_all(&out)?;
    w.flush()
}

fn close_with(w: &mut TcpStream, code: u16) {
    let _ = write_frame(w, OP_CLOSE, &code.to_be_bytes());
    let _ = w.shutdown(Shutdown::Write);
}

/// Echoes every text and binary message back as one frame of its type
/// (fragments are joined first), answers pings, and answers a close with
/// the same status code. `on_message` is called once per data message.
/// Returns when the connection closes.
pub fn echo_loop(stream: TcpStream, buffered: Vec<u8>, on_message: &dyn Fn(bool)) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = io::Cursor::new(buffered).chain(stream);
    let mut message: Option<(u8, Vec<u8>)> = None;
    loop {
        let frame = match read_frame(&mut reader) {
            Ok(f) => f,
            Err(FrameError::Io) => return,
            Err(FrameError::Close(code)) => return close_with(&mut writer, code),
        };
        match frame.opcode {
            OP_PING => {
                if write_frame(&mut writer, OP_PONG, &frame.payload).is_err() {
                    return;
                }
            }
            OP_PONG => {}
            OP_CLOSE => {
                let code = match frame.payload.len() {
                    0 => None,
                    1 => return close_with(&mut writer, CLOSE_PROTOCOL_ERROR),
                    _ => Some(u16::from_be_bytes([frame.payload[0], frame.payload[1]])),
                };
                if frame.payload.len() > 2 && std::str::from_utf8(&frame.payload[2..]).is_err() {
                    return close_with(&mut writer, CLOSE_INVALID_PAYLOAD);
                }
                let _ = write_frame(&mut writer, OP_CLOSE, &code.map(|c| c.to_be_bytes().to_vec()).unwrap_or_default());
                let _ = writer.shutdown(Shutdown::Write);
                return;
            }
            op => {
                let (kind, mut data) = match (op, message.take()) {
                    (OP_CONTINUATION, Some(m)) => m,
                    (OP_CONTINUATION, None) => return close_with(&mut writer, CLOSE_PROTOCOL_ERROR),
                    (_, Some(_)) => return close_with(&mut writer, CLOSE_PROTOCOL_ERROR),
                    (op, None) => (op, Vec::new()),
                };
                if data.len() + frame.payload.len() > MAX_MESSAGE {
                    return close_with(&mut writer, CLOSE_TOO_BIG);
                }
                data.extend_from_slice(&frame.payload);
                if !frame.fin {
                    message = Some((kind, data));
                    continue;
                }
                if kind == OP_TEXT && std::str::from_utf8(&data).is_err() {
                    return close_with(&mut writer, CLOSE_INVALID_PAYLOAD);
                }
                on_message(kind == OP_TEXT);
                if write_frame(&mut writer, kind, &data).is_err() {
                    return;
                }
            }
        }
    }
}
