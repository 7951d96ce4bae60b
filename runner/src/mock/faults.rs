//! Fault injection: which request gets which fault ([`FaultTable::draw`], a
//! pure function of a seeded RNG), and the bytes a faulty OpenAI stream
//! sends ([`FaultWriter`]).
//!
//! A request draws one uniform number `u` in `[0, 1)` and gets the first
//! fault whose cumulative rate exceeds it, in [`MockFaults::rates`] order, so
//! each fault strikes exactly its rate's share of requests and a request
//! gets at most one.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use rand::Rng;
use rand::rngs::SmallRng;

use super::MockFaults;
use super::request::{FinishReason, ParsedRequest};
use super::response::{ChunkWriter, ResponseMeta};
use super::stream::FrameWriter;

/// Bytes of text in the huge line's content: 10 MiB, past the runner's
/// 8 MiB line limit.
pub(crate) const HUGE_LINE_BYTES: usize = 10 << 20;

/// The message of every injected server error.
pub(crate) const FAULT_MESSAGE: &str = "mock fault: the server failed while generating";

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// HTTP error with this 5xx status, at once.
    Error(u16),
    /// HTTP 429 with `Retry-After: 1`, at once.
    RateLimit,
    /// The first token comes this much late.
    StallFirst(Duration),
    /// The mid-stream token comes this much late.
    StallMid(Duration),
    /// The connection is closed mid-stream.
    Drop,
    /// One event of cut-off JSON mid-stream.
    Malformed,
    /// An error event mid-stream, then the end of the stream.
    ErrorEvent,
    /// A 200 with no content.
    Empty,
    /// One event whose content is not UTF-8.
    InvalidUtf8,
    /// One 10 MiB line.
    HugeLine,
}

/// A validated [`MockFaults`], ready to draw from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FaultTable {
    /// Cumulative rates, in [`MockFaults::rates`] order.
    bounds: [f64; 10],
    status: u16,
    stall_first: Duration,
    stall_mid: Duration,
}

impl FaultTable {
    /// The table of a config whose problems were checked (see
    /// [`super::MockConfig::problems`]); `None` when no fault is configured,
    /// so a request then draws nothing.
    pub(crate) fn new(faults: &MockFaults) -> Option<FaultTable> {
        let rates = faults.rates();
        if rates.iter().all(|(_, r)| *r <= 0.0) {
            return None;
        }
        let mut bounds = [0.0; 10];
        let mut sum = 0.0;
        for (bound, (_, rate)) in bounds.iter_mut().zip(rates) {
            sum += rate;
            *bound = sum;
        }
        let ms = |ms: f64| Duration::from_nanos((ms * 1e6).round() as u64);
        Some(FaultTable {
            bounds,
            status: faults.error_status,
            stall_first: ms(faults.stall_first_ms),
            stall_mid: ms(faults.stall_mid_ms),
        })
    }

    /// The fault of one request, from its own seeded RNG.
    pub(crate) fn draw(&self, rng: &mut SmallRng) -> Option<Fault> {
        let u: f64 = rng.random();
        let index = self.bounds.iter().position(|bound| u < *bound)?;
        Some(match index {
            0 => Fault::Error(self.status),
            1 => Fault::RateLimit,
            2 => Fault::StallFirst(self.stall_first),
            3 => Fault::StallMid(self.stall_mid),
            4 => Fault::Drop,
            5 => Fault::Malformed,
            6 => Fault::ErrorEvent,
            7 => Fault::Empty,
            8 => Fault::InvalidUtf8,
            _ => Fault::HugeLine,
        })
    }
}

/// The index of the token before which a mid-stream fault strikes: half the
/// response's tokens (rounded down) have been sent by then.
pub(crate) fn mid(tokens: u32) -> u32 {
    tokens / 2
}

/// The JSON string literal of the huge line's content, built once.
pub(crate) fn huge_literal() -> &'static Bytes {
    static HUGE: OnceLock<Bytes> = OnceLock::new();
    HUGE.get_or_init(|| {
        let mut buf = BytesMut::with_capacity(HUGE_LINE_BYTES + 2);
        buf.put_u8(b'"');
        buf.put_bytes(b'x', HUGE_LINE_BYTES);
        buf.put_u8(b'"');
        buf.freeze()
    })
}

/// Content that is not UTF-8, as a JSON string literal's bytes.
pub(crate) const INVALID_UTF8_LITERAL: &[u8] = b"\"\xFF\xFE\"";

/// An SSE event whose JSON is cut off.
const MALFORMED_EVENT: &[u8] =
    b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cut off\n\n";

/// An error object in OpenAI's shape.
pub(crate) fn error_object() -> String {
    format!(
        r#"{{"error":{{"message":"{FAULT_MESSAGE}","type":"server_error","param":null,"code":null}}}}"#
    )
}

/// What a faulty stream does at its fault's frame.
#[derive(Debug, Clone)]
enum Inject {
    /// Send these bytes before the frame, then go on.
    Before(Bytes),
    /// Send these bytes instead of the frame, and end the stream.
    End(Bytes),
    /// Close the connection instead of sending the frame.
    Cut,
    /// Send one frame of empty content.
    Empty,
}

/// An OpenAI stream, with the bytes of its fault (if any) spliced in.
#[derive(Debug, Clone)]
pub(crate) struct FaultWriter {
    inner: ChunkWriter,
    /// The frame the fault strikes at.
    at: u32,
    inject: Option<Inject>,
}

impl FaultWriter {
    /// The stream of a response of `tokens` tokens with `fault`'s bytes.
    /// Faults that do not change the bytes (HTTP errors and stalls) leave
    /// it as it is; an empty answer is one frame of empty content whose
    /// usage counts no completion tokens.
    pub(crate) fn new(
        req: &ParsedRequest,
        meta: &ResponseMeta,
        tokens: u32,
        finish: FinishReason,
        fault: Option<Fault>,
    ) -> Self {
        if fault == Some(Fault::Empty) {
            return FaultWriter {
                inner: ChunkWriter::with_usage(req, meta, 1, 0, FinishReason::Stop),
                at: 0,
                inject: Some(Inject::Empty),
            };
        }
        let inner = ChunkWriter::new(req, meta, tokens, finish);
        let inject = fault.and_then(|f| match f {
            Fault::Drop => Some(Inject::Cut),
            Fault::Malformed => Some(Inject::Before(Bytes::from_static(MALFORMED_EVENT))),
            Fault::ErrorEvent => Some(Inject::End(Bytes::from(format!(
                "event: error\ndata: {}\n\n",
                error_object()
            )))),
            Fault::InvalidUtf8 => Some(Inject::Before(inner.content_chunk(INVALID_UTF8_LITERAL))),
            Fault::HugeLine => Some(Inject::Before(inner.content_chunk(huge_literal()))),
            Fault::Empty
            | Fault::Error(_)
            | Fault::RateLimit
            | Fault::StallFirst(_)
            | Fault::StallMid(_) => None,
        });
        FaultWriter {
            at: mid(inner.frames()),
            inner,
            inject,
        }
    }
}

impl FrameWriter for FaultWriter {
    fn frames(&self) -> u32 {
        match self.inject {
            Some(Inject::End(_)) => self.at + 1,
            _ => self.inner.frames(),
        }
    }

    fn frame(&mut self, index: u32, token: &[u8]) -> Bytes {
        if index != self.at {
            return self.inner.frame(index, token);
        }
        match &self.inject {
            None | Some(Inject::Cut) => self.inner.frame(index, token),
            Some(Inject::End(bytes)) => bytes.clone(),
            Some(Inject::Empty) => self.inner.frame(index, b"\"\""),
            Some(Inject::Before(bytes)) => {
                let frame = self.inner.frame(index, token);
                let mut buf = BytesMut::with_capacity(bytes.len() + frame.len());
                buf.put_slice(bytes);
                buf.put_slice(&frame);
                buf.freeze()
            }
        }
    }

    fn cut_before(&self) -> Option<u32> {
        matches!(self.inject, Some(Inject::Cut)).then_some(self.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::request::{Endpoint, parse_request};
    use rand::SeedableRng;

    fn table(faults: MockFaults) -> FaultTable {
        FaultTable::new(&faults).expect("a fault is configured")
    }

    fn draws(t: &FaultTable, n: u64) -> Vec<Option<Fault>> {
        (0..n)
            .map(|seed| t.draw(&mut SmallRng::seed_from_u64(seed)))
            .collect()
    }

    #[test]
    fn no_rates_no_table() {
        assert_eq!(FaultTable::new(&MockFaults::default()), None);
    }

    #[test]
    fn a_rate_of_one_faults_every_request() {
        let t = table(MockFaults {
            error_rate: 1.0,
            error_status: 503,
            ..MockFaults::default()
        });
        assert!(
            draws(&t, 1000)
                .iter()
                .all(|f| *f == Some(Fault::Error(503)))
        );
        let t = table(MockFaults {
            huge_line_rate: 1.0,
            ..MockFaults::default()
        });
        assert!(draws(&t, 1000).iter().all(|f| *f == Some(Fault::HugeLine)));
    }

    #[test]
    fn each_fault_strikes_its_share_and_only_one() {
        let t = table(MockFaults {
            rate_limit_rate: 0.2,
            stall_mid_rate: 0.1,
            stall_mid_ms: 5.0,
            empty_rate: 0.3,
            ..MockFaults::default()
        });
        let got = draws(&t, 20_000);
        let share = |want: Fault| {
            got.iter().filter(|f| **f == Some(want)).count() as f64 / got.len() as f64
        };
        // 20,000 draws: a binomial share's standard deviation is below 0.0033.
        assert!((share(Fault::RateLimit) - 0.2).abs() < 0.015);
        assert!((share(Fault::StallMid(Duration::from_millis(5))) - 0.1).abs() < 0.015);
        assert!((share(Fault::Empty) - 0.3).abs() < 0.015);
        let none = got.iter().filter(|f| f.is_none()).count() as f64 / got.len() as f64;
        assert!((none - 0.4).abs() < 0.015);
        // The same seeds fault the same requests.
        assert_eq!(got, draws(&t, 20_000));
    }

    fn writer(fault: Option<Fault>, tokens: u32) -> FaultWriter {
        let req = parse_request(
            Endpoint::Chat,
            br#"{"stream":true,"stream_options":{"include_usage":true},"messages":[{"content":"hi"}]}"#,
        )
        .expect("valid");
        let meta = ResponseMeta::new(Endpoint::Chat, 0, 0);
        FaultWriter::new(&req, &meta, tokens, FinishReason::Stop, fault)
    }

    fn body(mut w: FaultWriter) -> Vec<u8> {
        let frames = w.frames();
        (0..frames).flat_map(|i| w.frame(i, b"\"t\"")).collect()
    }

    #[test]
    fn stalls_and_http_errors_leave_the_bytes_alone() {
        let clean = body(writer(None, 6));
        for f in [
            Fault::Error(500),
            Fault::RateLimit,
            Fault::StallFirst(Duration::from_millis(1)),
            Fault::StallMid(Duration::from_millis(1)),
        ] {
            assert_eq!(body(writer(Some(f), 6)), clean, "{f:?}");
        }
        assert_eq!(writer(Some(Fault::Drop), 6).cut_before(), Some(3));
        assert_eq!(writer(None, 6).cut_before(), None);
    }

    #[test]
    fn splices_land_mid_stream() {
        let text = |f| String::from_utf8_lossy(&body(writer(Some(f), 6))).into_owned();
        let malformed = text(Fault::Malformed);
        let events: Vec<&str> = malformed.split_terminator("\n\n").collect();
        // Role chunk + 3 tokens, then the cut-off event, then the rest.
        assert!(events[4].ends_with("\"cut off"), "{malformed}");
        assert!(malformed.ends_with("data: [DONE]\n\n"));

        let error = text(Fault::ErrorEvent);
        assert!(error.ends_with(&format!("event: error\ndata: {}\n\n", error_object())));
        assert_eq!(error.matches("\"content\":\"t\"").count(), 3);
        assert!(!error.contains("[DONE]"));

        let utf8 = body(writer(Some(Fault::InvalidUtf8), 6));
        assert!(std::str::from_utf8(&utf8).is_err());
        assert_eq!(utf8.windows(2).filter(|w| *w == b"\xFF\xFE").count(), 1);

        let huge = body(writer(Some(Fault::HugeLine), 2));
        let longest = huge.split(|b| *b == b'\n').map(<[u8]>::len).max();
        assert!(longest > Some(HUGE_LINE_BYTES));
    }

    #[test]
    fn an_empty_answer_has_no_content_and_ends_well() {
        let text = String::from_utf8(body(writer(Some(Fault::Empty), 6))).expect("utf8");
        assert_eq!(text.matches("\"content\":\"\"").count(), 2, "{text}");
        assert!(text.contains("\"finish_reason\":\"stop\""));
        assert!(text.contains("\"completion_tokens\":0"), "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
}
