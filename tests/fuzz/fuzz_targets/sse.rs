#![no_main]
//! The authenticator's SSE parser (the device channel's wire format), fed the
//! same stream in fuzzer-chosen chunks: it never panics, its events hold no
//! line breaks where none can be, and the events do not depend on where the
//! network happened to split the stream.
//!
//! Input: one byte `n`, then `n % 16` cut points (two bytes each, taken
//! modulo the stream's length), then the stream.
use authentiq_authenticator::sse::{SseEvent, SseParser};
use libfuzzer_sys::fuzz_target;

/// Every event from pushing `chunks` in order, or `None` if the parser
/// refused the stream (an oversized event: when that shows depends on the
/// chunking by design, so such runs are not compared).
fn events<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Option<Vec<SseEvent>> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(parser.push(chunk).ok()?);
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let cuts_len = (usize::from(n % 16) * 2).min(rest.len());
    let (cuts, stream) = rest.split_at(cuts_len);
    let mut cuts: Vec<usize> = cuts
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for cut in cuts {
        chunks.push(&stream[start..cut]);
        start = cut;
    }
    chunks.push(&stream[start..]);

    let Some(whole) = events([stream]) else {
        return;
    };
    for ev in &whole {
        for field in [&ev.id, &ev.event].into_iter().flatten() {
            assert!(!field.contains(['\r', '\n']), "{ev:?}");
        }
        assert!(!ev.data.contains('\r'), "{ev:?}");
    }
    if let Some(chunked) = events(chunks.iter().copied()) {
        assert_eq!(chunked, whole, "chunks {chunks:?}");
    }
    if stream.len() <= 64
        && let Some(bytewise) = events(stream.chunks(1))
    {
        assert_eq!(bytewise, whole, "byte by byte");
    }
});
