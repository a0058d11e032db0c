// SPDX-License-Identifier: MIT
//! A small HTTP/1.1 server side over one `TcpStream` (RFC 9112): reads
//! requests (Content-Length and chunked bodies, `Expect: 100-continue`),
//! answers each before reading the next, so pipelined requests are
//! answered in order; keeps the connection open unless the client asks
//! otherwise (HTTP/1.0 only with `Connection: keep-alive`). A handler may
//! take the connection over after its response (a WebSocket upgrade).
//! One thread per connection; nothing here is shared between threads.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The request line and headers may take this many bytes.
pub const MAX_HEAD: usize = 64 * 1024;
/// A request body may take this many bytes.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// What followed `?`, or empty.
    pub query: String,
    pub version: Version,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the comma-separated lists of every `name` header hold `token`.
    pub fn header_has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status).header("content-type", "text/plain; charset=utf-8").body(body.into().into_bytes())
    }

    pub fn json(status: u16, body: String) -> Self {
        Response::new(status).header("content-type", "application/json").body(body.into_bytes())
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
}

/// The connection after an upgrade: the stream and the bytes already read
/// past the upgrade request.
pub struct Upgraded {
    pub stream: TcpStream,
    pub buffered: Vec<u8>,
}

pub type UpgradeFn = Box<dyn FnOnce(Upgraded) + Send>;

/// What a handler does with a request.
pub enum Outcome {
    Response(Response),
    /// Send the (101) response, then hand the connection to the function.
    Upgrade(Response, UpgradeFn),
}

/// The canonical reason phrase, or none (an empty reason is valid HTTP;
/// 530 has no standard one).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        402 => "Payment Required",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// A request that cannot be read: answered with `status`, then closed.
#[derive(Debug)]
enum ReadError {
    Io,
    Status(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` before this are consumed.
    pos: usize,
}

impl Conn {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more bytes; false at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn consume(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        out
    }

    /// One CRLF-terminated line (without the CRLF), at most `limit` bytes.
    fn read_line(&mut self, limit: usize) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(i) = self.buffered().windows(2).position(|w| w == b"\r\n") {
                if i > limit {
                    return Err(ReadError::Status(400, "line too long"));
                }
                let line = self.consume(i);
                self.pos += 2;
                return Ok(line);
            }
            if self.buffered().len() > limit + 2 {
                return Err(ReadError::Status(400, "line too long"));
            }
            if !self.fill()? {
                return Err(ReadError::Io);
            }
        }
    }

    fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buffered().len() < n {
            if !self.fill()? {
                return Err(ReadError::Io);
            }
        }
        Ok(self.consume(n))
    }

    /// The request head (request line and headers) up to the empty line;
    /// None when the stream ends cleanly between requests.
    fn read_head(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            // Empty lines before a request line are ignored (RFC 9112 2.2).
            while self.buffered().starts_with(b"\r\n") {
                self.pos += 2;
            }
            if let Some(i) = self.buffered().windows(4).position(|w| w == b"\r\n\r\n") {
                if i + 4 > MAX_HEAD {
                    return Err(ReadError::Status(431, "request head too large"));
                }
                let head = self.consume(i + 2);
                self.pos += 2;
                return Ok(Some(head));
            }
            if self.buffered().len() > MAX_HEAD {
                return Err(ReadError::Status(431, "request head too large"));
            }
            let had_bytes = !self.buffered().is_empty();
            if !self.fill()? {
                return if had_bytes { Err(ReadError::Io) } else { Ok(None) };
            }
        }
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(4096)?;
            let line = String::from_utf8_lossy(&line);
            let size_text = line.split(';').next().unwrap_or("").trim();
            if size_text.is_empty() || !size_text.bytes().all(|b| b.is_ascii_hexdigit()) || size_text.len() > 15 {
                return Err(ReadError::Status(400, "bad chunk size"));
            }
            let size = usize::from_str_radix(size_text, 16).map_err(|_| ReadError::Status(400, "bad chunk size"))?;
            if size == 0 {
                // Trailer fields, up to the empty line; ignored.
                let mut trailer_bytes = 0;
                loop {
                    let t = self.read_line(MAX_HEAD)?;
                    if t.is_empty() {
                        return Ok(body);
                    }
                    trailer_bytes += t.len();
                    if trailer_bytes > MAX_HEAD {
                        return Err(ReadError::Status(431, "trailers too large"));
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadError::Status(413, "body too large"));
            }
            body.extend_from_slice(&self.read_exact(size)?);
            if self.read_exact(2)? != b"\r\n" {
                return Err(ReadError::Status(400, "chunk not followed by CRLF"));
            }
        }
    }
}

/// Splits a head into request line fields and headers.
fn parse_head(head: &[u8]) -> Result<(String, String, Version, Vec<(String, String)>), ReadError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) => (m, t, v),
        _ => return Err(ReadError::Status(400, "bad request line")),
    };
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return Err(ReadError::Status(400, "bad method"));
    }
    if !target.starts_with('/') {
        return Err(ReadError::Status(400, "bad request target"));
    }
    let version = match version {
        "HTTP/1.1" => Version::Http11,
        "HTTP/1.0" => Version::Http10,
        v if v.starts_with("HTTP/") => return Err(ReadError::Status(505, "unsupported HTTP version")),
        _ => return Err(ReadError::Status(400, "bad HTTP version")),
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (name, value) = match line.split_once(':') {
            Some(nv) => nv,
            None => return Err(ReadError::Status(400, "bad header line")),
        };
        if name.is_empty() || !name.bytes().all(is_token_char) {
            // Includes obsolete line folding and space before the colon.
            return Err(ReadError::Status(400, "bad header name"));
        }
        headers.push((name.to_string(), value.trim_matches(|c| c == ' ' || c == '\t').to_string()));
    }
    Ok((method.to_string(), target.to_string(), version, headers))
}

fn write_response(stream: &mut TcpStream, resp: &Response, keep_alive: Option<bool>) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason_phrase(resp.status)).into_bytes();
    for (k, v) in &resp.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if resp.status != 101 {
        out.extend_from_slice(format!("content-length: {}\r\n", resp.body.len()).as_bytes());
    }
    match keep_alive {
        Some(false) => out.extend_from_slice(b"connection: close\r\n"),
        Some(true) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        None => {}
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&resp.body);
    stream.write_all(&out)?;
    stream.flush()
}

/// Serves requests on `stream` until the client closes it, asks to close,
/// sends something unreadable, or a handler takes it over.
pub fn serve_connection(stream: TcpStream, handler: &dyn Fn(&Request) -> Outcome) {
    let mut conn = Conn { stream, buf: Vec::new(), pos: 0 };
    loop {
        match read_request(&mut conn) {
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Status(status, message)) => {
                let _ = write_response(&mut conn.stream, &Response::text(status, message), Some(false));
                return;
            }
            Ok(Some(req)) => {
                let keep_alive = match req.version {
                    Version::Http11 => !req.header_has_token("connection", "close"),
                    Version::Http10 => req.header_has_token("connection", "keep-alive"),
                };
                // HTTP/1.1 keeps alive by default: only a close is said.
                let said = match (req.version, keep_alive) {
                    (_, false) => Some(false),
                    (Version::Http10, true) => Some(true),
                    (Version::Http11, true) => None,
                };
                match handler(&req) {
                    Outcome::Response(resp) => {
                        if write_response(&mut conn.stream, &resp, said).is_err() || !keep_alive {
                            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                            return;
                        }
                    }
                    Outcome::Upgrade(resp, upgrade) => {
                        if write_response(&mut conn.stream, &resp, None).is_err() {
                            return;
                        }
                        let buffered = conn.buffered().to_vec();
                        upgrade(Upgraded { stream: conn.stream, buffered });
                        return;
                    }
                }
            }
        }
    }
}

fn read_request(conn: &mut Conn) -> Result<Option<Request>, ReadError> {
    let head = match conn.read_head()? {
        Some(h) => h,
        None => return Ok(None),
    };
    let (method, target, version, headers) = parse_head(&head)?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let mut req = Request { method, path, query, version, headers, body: Vec::new() };

    let te: Vec<String> = req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("transfer-encoding"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect();
    let lengths: Vec<&str> =
        req.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.as_str()).collect();
    enum Body {
        None,
        Length(usize),
        Chunked,
    }
    let body = if !te.is_empty() {
        if !lengths.is_empty() {
            return Err(ReadError::Status(400, "both Transfer-Encoding and Content-Length"));
        }
        if req.version == Version::Http10 {
            return Err(ReadError::Status(400, "Transfer-Encoding in HTTP/1.0"));
        }
        if te.last().map(|s| s.as_str()) != Some("chunked") || te.iter().filter(|t| *t == "chunked").count() != 1 {
            return Err(ReadError::Status(501, "unsupported Transfer-Encoding"));
        }
        if te.len() != 1 {
            return Err(ReadError::Status(501, "unsupported Transfer-Encoding"));
        }
        Body::Chunked
    } else if !lengths.is_empty() {
        let first = lengths[0];
        if lengths.iter().any(|l| *l != first) {
            return Err(ReadError::Status(400, "conflicting Content-Length"));
        }
        if first.is_empty() || first.len() > 12 || !first.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReadError::Status(400, "bad Content-Length"));
        }
        let n: usize = first.parse().map_err(|_| ReadError::Status(400, "bad Content-Length"))?;
        if n > MAX_BODY {
            return Err(ReadError::Status(413, "body too large"));
        }
        Body::Length(n)
    } else {
        Body::None
    };

    let wants_body = !matches!(body, Body::None | Body::Length(0));
    if wants_body && req.version == Version::Http11 && req.header_has_token("expect", "100-continue") {
        conn.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    req.body = match body {
        Body::None => Vec::new(),
        Body::Length(n) => conn.read_exact(n)?,
        Body::Chunked => conn.read_chunked()?,
    };
    Ok(Some(req))
}

/// Decodes %XX escapes of one path segment; None if an escape is broken or
/// the result is not UTF-8.
pub fn percent_decode(segment: &str) -> Option<String> {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
