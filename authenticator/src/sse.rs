//! A small Server-Sent Events parser (the device channel's wire format).

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Feed it chunks as they arrive; it hands out complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: String,
}

/// Lines longer than this mean the stream is not what we expect.
const MAX_BUFFER: usize = 64 * 1024;

impl SseParser {
    /// Adds a chunk; returns the events it completed, or `Err` when the
    /// stream grows without ever completing an event.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, &'static str> {
        self.buf.push_str(&String::from_utf8_lossy(chunk));
        if self.buf.contains('\r') {
            self.buf = self.buf.replace("\r\n", "\n").replace('\r', "\n");
        }
        let mut out = Vec::new();
        while let Some(i) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..i + 2).collect();
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

    #[test]
    fn refuses_endless_events() {
        let mut p = SseParser::default();
        assert!(p.push(&vec![b'a'; MAX_BUFFER + 1]).is_err());
    }
}
