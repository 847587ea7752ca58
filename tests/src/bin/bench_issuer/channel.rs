//! A device channel over a raw HTTP/1.1 connection: cheap enough to hold
//! ten thousand of them idle in one client process. Decodes the chunked
//! transfer coding and the Server-Sent Events framing by hand.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest event accepted (sign-in events are about 1 KiB).
const MAX_EVENT: usize = 64 * 1024;

/// One Server-Sent Event (comments and keep-alives are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a `<hex size>[;ext]\r\n` line.
    Size,
    /// This many bytes of chunk data still to come.
    Data(usize),
    /// The `\r\n` after a chunk's data.
    DataEnd,
    /// The last (zero-size) chunk arrived.
    Ended,
}

/// Whether an idle connection is still up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Open,
    Closed,
}

/// An open device channel.
#[derive(Debug)]
pub struct Channel {
    stream: TcpStream,
    chunked: bool,
    state: Chunk,
    /// Received bytes not decoded yet.
    raw: Vec<u8>,
    /// Decoded event-stream text not parsed into events yet (`\r` dropped).
    body: Vec<u8>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `"type":"…"` from a problem body, when there is one in `bytes`.
fn problem_type(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let rest = &text[text.find("\"type\":\"")? + 8..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Channel {
    /// Connects to `addr` and sends `GET /channel` with `token`; succeeds
    /// once a `200 text/event-stream` response head has arrived.
    pub async fn open(addr: SocketAddr, token: &str, limit: Duration) -> Result<Self, String> {
        timeout(limit, Self::open_inner(addr, token))
            .await
            .map_err(|_| format!("no response head within {} s", limit.as_secs()))?
    }

    async fn open_inner(addr: SocketAddr, token: &str) -> Result<Self, String> {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("nodelay: {e}"))?;
        let request = format!(
            "GET /channel HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
             Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("send: {}", e.kind()))?;
        let mut buf = Vec::with_capacity(1024);
        let mut tmp = [0u8; 2048];
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err("response head too large".into());
            }
            let n = stream
                .read(&mut tmp)
                .await
                .map_err(|e| format!("read head: {}", e.kind()))?;
            if n == 0 {
                return Err("closed before the response head".into());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let rest = buf[end + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        if status != "200" {
            return Err(match problem_type(&rest) {
                Some(t) => format!("HTTP {status} {t}"),
                None => format!("HTTP {status}"),
            });
        }
        let mut chunked = false;
        let mut event_stream = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (
                name.trim().to_ascii_lowercase(),
                value.trim().to_ascii_lowercase(),
            );
            match name.as_str() {
                "transfer-encoding" => chunked = value.contains("chunked"),
                "content-type" => event_stream = value.starts_with("text/event-stream"),
                _ => {}
            }
        }
        if !event_stream {
            return Err("200 but not text/event-stream".into());
        }
        let mut channel = Self {
            stream,
            chunked,
            state: Chunk::Size,
            raw: rest,
            body: Vec::new(),
        };
        channel.decode()?;
        channel.raw.shrink_to_fit();
        Ok(channel)
    }

    /// Moves what can be decoded from `raw` to `body`.
    fn decode(&mut self) -> Result<(), String> {
        if !self.chunked {
            self.body.extend(self.raw.drain(..).filter(|b| *b != b'\r'));
            return Ok(());
        }
        loop {
            match self.state {
                Chunk::Ended => {
                    self.raw.clear();
                    return Ok(());
                }
                Chunk::Size => {
                    let Some(i) = find(&self.raw, b"\r\n") else {
                        if self.raw.len() > 1024 {
                            return Err("bad chunk size line".into());
                        }
                        return Ok(());
                    };
                    let line = String::from_utf8_lossy(&self.raw[..i]).into_owned();
                    let hex = line.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(hex, 16)
                        .map_err(|_| format!("bad chunk size {hex:?}"))?;
                    self.raw.drain(..i + 2);
                    self.state = if size == 0 {
                        Chunk::Ended
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::Data(left) => {
                    if self.raw.is_empty() {
                        return Ok(());
                    }
                    let take = left.min(self.raw.len());
                    self.body
                        .extend(self.raw.drain(..take).filter(|b| *b != b'\r'));
                    self.state = if take == left {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left - take)
                    };
                }
                Chunk::DataEnd => {
                    if self.raw.len() < 2 {
                        return Ok(());
                    }
                    if &self.raw[..2] != b"\r\n" {
                        return Err("chunk data not followed by CRLF".into());
                    }
                    self.raw.drain(..2);
                    self.state = Chunk::Size;
                }
            }
        }
    }

    /// The next complete event already received, skipping comments.
    fn take_event(&mut self) -> Option<Event> {
        while let Some(i) = find(&self.body, b"\n\n") {
            let block: Vec<u8> = self.body.drain(..i + 2).collect();
            let mut ev = Event {
                id: None,
                event: None,
                data: String::new(),
            };
            for line in String::from_utf8_lossy(&block).lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => ev.id = Some(value.to_string()),
                    "event" => ev.event = Some(value.to_string()),
                    "data" => {
                        if !ev.data.is_empty() {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(value);
                    }
                    _ => {} // comments ("" field) and unknown fields
                }
            }
            if ev.event.is_some() || !ev.data.is_empty() {
                return Some(ev);
            }
        }
        None
    }

    /// Reads until the next event (the caller bounds the time; cancelling
    /// loses nothing that was received).
    pub async fn next_event(&mut self) -> Result<Event, String> {
        let mut tmp = [0u8; 4096];
        loop {
            self.decode()?;
            if let Some(ev) = self.take_event() {
                return Ok(ev);
            }
            if self.state == Chunk::Ended {
                return Err("the server ended the stream".into());
            }
            if self.body.len() > MAX_EVENT {
                return Err("event too large".into());
            }
            let n = self
                .stream
                .read(&mut tmp)
                .await
                .map_err(|e| format!("read: {}", e.kind()))?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.raw.extend_from_slice(&tmp[..n]);
        }
    }

    /// Without waiting: reads what has arrived (keep-alives) and tells
    /// whether the connection is still open.
    pub fn poll_liveness(&mut self) -> Liveness {
        let mut tmp = [0u8; 4096];
        loop {
            match self.stream.try_read(&mut tmp) {
                Ok(0) => return Liveness::Closed,
                Ok(n) => self.raw.extend_from_slice(&tmp[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return if self.decode().is_ok() && self.state != Chunk::Ended {
                        Liveness::Open
                    } else {
                        Liveness::Closed
                    };
                }
                Err(_) => return Liveness::Closed,
            }
        }
    }
}
