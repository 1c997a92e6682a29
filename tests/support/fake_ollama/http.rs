//! HTTP/1.1 by hand: accepting connections, parsing requests, writing plain and chunked responses,
//! and noticing when a client hangs up.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use std::{io, thread};

use super::chat::error_json;
use super::json::http_date;
use super::routes::{route, JSON};
use super::Shared;

// ============================================================================================
// Connections
// ============================================================================================

pub(crate) fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for incoming in listener.incoming() {
        if shared.stopping() {
            break;
        }
        let stream = match incoming {
            Ok(stream) => stream,
            Err(_) => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let id = {
            let mut state = shared.lock();
            if shared.stopping() {
                break;
            }
            let id = state.next_conn;
            state.next_conn += 1;
            if let Ok(clone) = stream.try_clone() {
                state.conns.insert(id, clone);
            }
            id
        };
        let worker = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("fake-ollama-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &worker);
                worker.lock().conns.remove(&id);
            });
        if spawned.is_err() {
            shared.lock().conns.remove(&id);
        }
    }
}

/// Serves requests on one connection (keep-alive) until the peer closes, a response asks for the
/// connection to end, or the server stops.
pub(crate) fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    while !shared.stopping() {
        let req = match read_request(&mut reader) {
            Ok(Some(req)) => req,
            Ok(None) | Err(_) => break,
        };
        shared.record(&req);
        let conn = Conn {
            stream: reader.get_ref(),
            shared,
            head_only: req.method == "HEAD",
            close: req.wants_close(),
        };
        if route(&req, &conn) == After::Close || conn.close {
            break;
        }
    }
    let _ = reader.get_ref().shutdown(Shutdown::Both);
}

/// Whether the connection may serve another request after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After {
    KeepAlive,
    Close,
}

/// Why a response could not be completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gone {
    /// The client hung up (write failed, or a peek saw end of stream / reset).
    Peer,
    /// The server is being dropped.
    Stopped,
}

// ============================================================================================
// HTTP request parsing
// ============================================================================================

pub(crate) const MAX_HEAD: usize = 64 * 1024;
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) version: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The request target without its query string.
    pub(crate) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub(crate) fn wants_close(&self) -> bool {
        let connection = self.header("Connection").unwrap_or("").to_ascii_lowercase();
        if self.version == "HTTP/1.0" {
            !connection.contains("keep-alive")
        } else {
            connection.contains("close")
        }
    }
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

pub(crate) fn bad_request(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads one request; `Ok(None)` when the peer closed cleanly before a new request.
pub(crate) fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = Vec::new();
    // Request line (blank lines before it are tolerated, as RFC 9112 asks).
    loop {
        line.clear();
        if read_line(reader, &mut line, MAX_HEAD)? == 0 {
            return Ok(None);
        }
        if !trim_eol(&line).is_empty() {
            break;
        }
    }
    let request_line =
        std::str::from_utf8(trim_eol(&line)).map_err(|_| bad_request("request line"))?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_request("request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad_request("version"));
    }
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };

    let mut head_len = line.len();
    loop {
        line.clear();
        let n = read_line(reader, &mut line, MAX_HEAD.saturating_sub(head_len))?;
        if n == 0 {
            return Err(bad_request("headers cut short"));
        }
        head_len += n;
        let text = trim_eol(&line);
        if text.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(text);
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| bad_request("header line"))?;
        req.headers
            .push((name.trim().to_string(), value.trim().to_string()));
    }

    if req
        .header("Expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        let mut out = reader.get_ref();
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }

    if req
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        req.body = read_chunked_body(reader)?;
    } else if let Some(len) = req.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| bad_request("Content-Length"))?;
        if len > MAX_BODY {
            return Err(bad_request("body too large"));
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(Some(req))
}

/// Reads up to and including `\n`, at most `limit` bytes; a line that does not end in `\n` is an error
/// (too long or cut short), except for a clean end of stream (returns 0).
pub(crate) fn read_line(
    reader: &mut BufReader<TcpStream>,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<usize> {
    if limit == 0 {
        return Err(bad_request("head too large"));
    }
    let n = reader.by_ref().take(limit as u64).read_until(b'\n', buf)?;
    if n > 0 && !buf.ends_with(b"\n") {
        return Err(bad_request("line too long or cut short"));
    }
    Ok(n)
}

pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

pub(crate) fn read_chunked_body(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if read_line(reader, &mut line, 1024)? == 0 {
            return Err(bad_request("chunked body cut short"));
        }
        let size_text = String::from_utf8_lossy(trim_eol(&line));
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad_request("chunk size"))?;
        if size == 0 {
            // Trailer section, up to the empty line.
            loop {
                line.clear();
                if read_line(reader, &mut line, MAX_HEAD)? == 0 || trim_eol(&line).is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(bad_request("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        line.clear();
        read_line(reader, &mut line, 2)?;
    }
}

// ============================================================================================
// Response writing
// ============================================================================================

/// Go's net/http sends a handler's body with Content-Length if it fits its 2048-byte buffer, chunked
/// otherwise (that is why the recorded /api/show reply is chunked).
pub(crate) const GO_CHUNKING_THRESHOLD: usize = 2048;

pub(crate) enum Framing {
    Length(usize),
    Chunked,
}

/// The status line and headers, in the order Go writes them: the handler's headers (sorted), then
/// Date, Content-Length, Connection, Transfer-Encoding.
pub(crate) fn response_head(
    status: u16,
    headers: &[(&str, &str)],
    framing: Framing,
    close: bool,
) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (name, value) in headers {
        // A client that asked to close gets `Connection: close` below instead of the handler's.
        if close && name.eq_ignore_ascii_case("Connection") {
            continue;
        }
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Date: {}\r\n", http_date(SystemTime::now()));
    if let Framing::Length(len) = framing {
        let _ = write!(head, "Content-Length: {len}\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    if let Framing::Chunked = framing {
        head.push_str("Transfer-Encoding: chunked\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Site Overloaded",
        _ => "Unknown",
    }
}

/// One accepted connection, for the duration of one response.
pub(crate) struct Conn<'a> {
    pub(crate) stream: &'a TcpStream,
    pub(crate) shared: &'a Shared,
    /// A HEAD request: headers only.
    pub(crate) head_only: bool,
    /// The client asked for `Connection: close`.
    pub(crate) close: bool,
}

impl Conn<'_> {
    pub(crate) fn gone(&self) -> Gone {
        if self.shared.stopping() {
            Gone::Stopped
        } else {
            Gone::Peer
        }
    }

    pub(crate) fn write_all(&self, bytes: &[u8]) -> Result<(), Gone> {
        let mut stream = self.stream;
        stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .map_err(|_| self.gone())
    }

    /// Whether the client has closed its side (a non-blocking peek reads end of stream or fails).
    pub(crate) fn peer_closed(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut byte = [0u8; 1];
        let closed = match self.stream.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ),
        };
        let _ = self.stream.set_nonblocking(false);
        closed
    }

    /// Sleeps in 5 ms slices, noticing a hang-up or the server stopping meanwhile.
    pub(crate) fn wait(&self, duration: Duration) -> Result<(), Gone> {
        if duration.is_zero() {
            return Ok(());
        }
        let start = Instant::now();
        loop {
            if self.shared.stopping() {
                return Err(Gone::Stopped);
            }
            if self.peer_closed() {
                return Err(self.gone());
            }
            let left = duration.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(());
            }
            thread::sleep(left.min(Duration::from_millis(5)));
        }
    }

    pub(crate) fn send(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<After, Gone> {
        self.send_body(status, headers, body, None)
    }

    pub(crate) fn send_json(&self, status: u16, json: &str) -> Result<After, Gone> {
        self.send(status, &[("Content-Type", JSON)], json.as_bytes())
    }

    pub(crate) fn send_error(&self, status: u16, message: &str) -> Result<After, Gone> {
        self.send_json(status, &error_json(message))
    }

    /// A whole (non-stream) body, framed the way Go frames it, optionally written in small pieces.
    pub(crate) fn send_body(
        &self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
        split_every: Option<usize>,
    ) -> Result<After, Gone> {
        let chunked = body.len() > GO_CHUNKING_THRESHOLD && !self.head_only;
        let framing = if chunked {
            Framing::Chunked
        } else {
            Framing::Length(body.len())
        };
        let head = response_head(status, headers, framing, self.close);
        let mut out = BodyOut::new(self, head, chunked, split_every);
        out.push(body)?;
        out.finish()?;
        Ok(After::KeepAlive)
    }
}

/// Writes a response body: the head goes out with the first bytes; with chunked framing each write
/// is one HTTP chunk; with `split_every` the body is cut into pieces of that many bytes regardless of
/// line boundaries (a trailing partial piece waits for more bytes, or for `flush`/`finish`).
pub(crate) struct BodyOut<'c, 'a> {
    pub(crate) conn: &'c Conn<'a>,
    pub(crate) head: Option<Vec<u8>>,
    pub(crate) chunked: bool,
    pub(crate) split_every: Option<usize>,
    pub(crate) pending: Vec<u8>,
}

impl<'c, 'a> BodyOut<'c, 'a> {
    pub(crate) fn new(
        conn: &'c Conn<'a>,
        head: Vec<u8>,
        chunked: bool,
        split_every: Option<usize>,
    ) -> Self {
        BodyOut {
            conn,
            head: Some(head),
            chunked,
            split_every: split_every.filter(|&n| n > 0),
            pending: Vec::new(),
        }
    }

    pub(crate) fn push_line(&mut self, json: &str) -> Result<(), Gone> {
        let mut line = Vec::with_capacity(json.len() + 1);
        line.extend_from_slice(json.as_bytes());
        line.push(b'\n');
        self.push(&line)
    }

    pub(crate) fn push(&mut self, data: &[u8]) -> Result<(), Gone> {
        let Some(size) = self.split_every else {
            return self.write_piece(data);
        };
        self.pending.extend_from_slice(data);
        while self.pending.len() >= size {
            let piece: Vec<u8> = self.pending.drain(..size).collect();
            self.write_piece(&piece)?;
            thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Sends the head (if not yet sent) and any pending partial piece.
    pub(crate) fn flush(&mut self) -> Result<(), Gone> {
        let pending = std::mem::take(&mut self.pending);
        self.write_piece(&pending)
    }

    /// Flushes, then ends a chunked body with the terminating 0-chunk.
    pub(crate) fn finish(&mut self) -> Result<(), Gone> {
        self.flush()?;
        if self.chunked && !self.conn.head_only {
            self.conn.write_all(b"0\r\n\r\n")?;
        }
        Ok(())
    }

    pub(crate) fn write_piece(&mut self, data: &[u8]) -> Result<(), Gone> {
        let mut buf = self.head.take().unwrap_or_default();
        if !data.is_empty() && !self.conn.head_only {
            if self.chunked {
                let _ = write!(buf, "{:x}\r\n", data.len());
                buf.extend_from_slice(data);
                buf.extend_from_slice(b"\r\n");
            } else {
                buf.extend_from_slice(data);
            }
        }
        if buf.is_empty() {
            return Ok(());
        }
        self.conn.write_all(&buf)
    }
}
