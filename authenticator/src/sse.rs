//! A small Server-Sent Events parser (the device channel's wire format).

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Feed it chunks as they arrive; it hands out complete events, the same
/// ones however the stream was split.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes with line ends made `\n`, up to the first incomplete event
    /// (decoded as UTF-8 only once complete, so that a character split
    /// across chunks survives).
    buf: Vec<u8>,
    /// The last chunk ended in `\r`: a `\n` opening the next one ends the
    /// same line (CRLF split across chunks), not another one.
    after_cr: bool,
}

/// Lines longer than this mean the stream is not what we expect.
const MAX_BUFFER: usize = 64 * 1024;

impl SseParser {
    /// Adds a chunk; returns the events it completed, or `Err` when the
    /// stream grows without ever completing an event.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, &'static str> {
        let mut chunk = chunk;
        if self.after_cr && !chunk.is_empty() {
            self.after_cr = false;
            chunk = chunk.strip_prefix(b"\n").unwrap_or(chunk);
        }
        // What was buffered holds no blank line: search only from its end.
        let mut from = self.buf.len().saturating_sub(1);
        // Line ends are CRLF, LF or CR (WHATWG); all become LF.
        let mut bytes = chunk.iter().copied().peekable();
        while let Some(b) = bytes.next() {
            if b == b'\r' {
                self.after_cr = bytes.next_if_eq(&b'\n').is_none() && bytes.peek().is_none();
                self.buf.push(b'\n');
            } else {
                self.buf.push(b);
            }
        }
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(i) = self.buf[from..].windows(2).position(|w| w == b"\n\n") {
            let end = from + i + 2;
            let block = String::from_utf8_lossy(&self.buf[start..end]);
            (start, from) = (end, end);
            let mut ev = SseEvent::default();
            let mut has_data = false;
            for line in block.lines() {
                let (field, value) = match line.split_once(':') {
                    Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                    None => (line, ""),
                };
                match field {
                    "id" => ev.id = Some(value.to_string()),
                    "event" => ev.event = Some(value.to_string()),
                    "data" => {
                        if has_data {
                            ev.data.push('\n');
                        }
                        ev.data.push_str(value);
                        has_data = true;
                    }
                    _ => {} // comments (keep-alives) and unknown fields
                }
            }
            if has_data {
                out.push(ev);
            }
        }
        // Once per chunk, so that a chunk of many events, or an event in
        // many chunks, costs linear time (it was quadratic).
        self.buf.drain(..start);
        if self.buf.len() > MAX_BUFFER {
            return Err("the event stream sent an oversized event");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_split_chunks_comments_and_crlf() {
        let mut p = SseParser::default();
        assert!(
            p.push(b": keep-alive\n\nid: 7\nevent: sign-in\nda")
                .unwrap()
                .is_empty()
        );
        let evs = p
            .push(b"ta: abc.def.ghi\r\n\r\nid:8\nevent:scope-job\ndata:x\n\n")
            .unwrap();
        assert_eq!(
            evs,
            vec![
                SseEvent {
                    id: Some("7".into()),
                    event: Some("sign-in".into()),
                    data: "abc.def.ghi".into()
                },
                SseEvent {
                    id: Some("8".into()),
                    event: Some("scope-job".into()),
                    data: "x".into()
                },
            ]
        );
    }

    /// Found by the `sse` fuzz target (tests/fuzz/corpus/sse/regression-*):
    /// the events depended on where the network split the stream.
    #[test]
    fn a_crlf_or_a_character_split_across_chunks_is_read_as_one() {
        let mut p = SseParser::default();
        assert!(p.push(b"data\r").unwrap().is_empty());
        assert!(p.push(b"\n").unwrap().is_empty(), "CR LF is one line end");
        assert!(p.push(b"").unwrap().is_empty());
        assert_eq!(
            p.push(b"\n").unwrap().len(),
            1,
            "LF after CR LF ends the event"
        );
        let mut p = SseParser::default();
        assert!(p.push(b"data: a\r").unwrap().is_empty());
        let evs = p.push(b"\ndata: b\r").unwrap();
        assert!(evs.is_empty(), "{evs:?}");
        assert_eq!(p.push(b"\r").unwrap()[0].data, "a\nb");
        let mut p = SseParser::default();
        assert!(p.push(b"data: h\xc3").unwrap().is_empty());
        assert_eq!(p.push(b"\xa9\n\n").unwrap()[0].data, "h\u{e9}");
    }

    #[test]
    fn refuses_endless_events() {
        let mut p = SseParser::default();
        assert!(p.push(&vec![b'a'; MAX_BUFFER + 1]).is_err());
    }
}
