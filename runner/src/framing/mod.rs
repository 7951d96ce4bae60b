//! Host-side framing: splits a streamed response body into [`Frame`]s before
//! the plugin's `stream-parser.feed` sees them.
//!
//! Framing lives on the host so that every plugin shares one tested splitter
//! (DESIGN.md, "The plugin boundary"). A plugin names the framing it wants in
//! its `info()`; the executor builds one [`Framer`] per request and pushes
//! every network read into it as it arrives:
//!
//! ```
//! use runner::framing::{Framer, FramingKind, DEFAULT_MAX_LINE};
//! let mut framer = Framer::new(FramingKind::Sse, DEFAULT_MAX_LINE);
//! let mut frames = Vec::new();
//! framer.push(b"data: {\"a\"", &mut frames).unwrap();
//! framer.push(b":1}\n\n", &mut frames).unwrap();
//! framer.finish(&mut frames).unwrap();
//! assert_eq!(frames[0].data, "{\"a\":1}");
//! ```
//!
//! Three framings exist, one file each:
//! - [`sse`]: server-sent events per the WHATWG event-stream rules;
//! - [`ndjson`]: one frame per non-empty line;
//! - [`raw`]: every network read is one frame of text.
//!
//! Guarantees shared by all three:
//! - A body split at any byte, even inside a UTF-8 sequence, gives the same
//!   frames as the unsplit body (raw: the same text, since its frames *are*
//!   the reads).
//! - Memory is bounded: a line is never buffered past the limit given to
//!   [`Framer::new`]; the line that would cross it is an error instead.
//! - Errors are final: once `push` or `finish` has returned an error, every
//!   later call returns the same error, so a caller cannot frame past corrupt
//!   input by accident.
//! - On the hot path the only allocations are the frames' own strings (plus
//!   the partial line carried from one read to the next).

mod lines;
pub mod ndjson;
pub mod raw;
pub mod sse;

#[cfg(test)]
mod split_tests;

pub use ndjson::NdjsonFramer;
pub use raw::RawFramer;
pub use sse::SseFramer;

/// Default limit on one line of a streamed body (8 MiB). Long enough for any
/// real token stream, short enough that a server sending an endless line
/// cannot exhaust memory.
pub const DEFAULT_MAX_LINE: usize = 8 << 20;

/// One frame of a streamed body, as handed to a plugin's `feed`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// The SSE `event:` name, when the server sent a non-empty one. Always
    /// `None` for NDJSON and raw framing.
    pub event: Option<String>,
    /// The SSE data (several `data:` lines joined by `\n`), one NDJSON line,
    /// or the text of one raw read.
    pub data: String,
}

/// Which framing to apply, as a plugin asks for it in `info()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FramingKind {
    /// Server-sent events.
    Sse,
    /// Newline-delimited JSON (or any line-per-record text).
    Ndjson,
    /// No splitting: each network read is one frame.
    Raw,
}

impl std::fmt::Display for FramingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FramingKind::Sse => "sse",
            FramingKind::Ndjson => "ndjson",
            FramingKind::Raw => "raw",
        })
    }
}

/// Why a streamed body could not be framed. Offsets count bytes from the
/// start of the body (a skipped BOM included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A line grew past the limit before its line end came.
    #[error(
        "a line of the response stream is longer than {limit} bytes: the body is probably not in \
         the framing the plugin asked for (check the plugin's framing), or the line limit is too small"
    )]
    LineTooLong {
        /// The limit in bytes, as given to [`Framer::new`].
        limit: usize,
    },
    /// One SSE event's joined `data:` lines grew past the limit.
    #[error(
        "one event of the response stream carries more than {limit} bytes of data (many `data:` \
         lines without a blank line between them): the server never ends its events"
    )]
    FrameTooLarge {
        /// The limit in bytes, as given to [`Framer::new`].
        limit: usize,
    },
    /// Bytes that are not UTF-8 (or a UTF-8 sequence cut off by the end of
    /// the body).
    #[error(
        "invalid UTF-8 at byte {offset} of the response body: streamed frames must be UTF-8 text, \
         so the server sent binary or another encoding"
    )]
    InvalidUtf8 {
        /// Byte offset of the first byte that is not valid UTF-8.
        offset: u64,
    },
}

/// A framer of one kind, for one response body. Build one per request.
#[derive(Debug)]
pub enum Framer {
    /// Server-sent events.
    Sse(SseFramer),
    /// Newline-delimited JSON.
    Ndjson(NdjsonFramer),
    /// One frame per read.
    Raw(RawFramer),
}

impl Framer {
    /// A fresh framer of `kind`. `max_line` bounds one buffered line (and, for
    /// SSE, one event's data); use [`DEFAULT_MAX_LINE`] unless told otherwise.
    pub fn new(kind: FramingKind, max_line: usize) -> Self {
        match kind {
            FramingKind::Sse => Framer::Sse(SseFramer::new(max_line)),
            FramingKind::Ndjson => Framer::Ndjson(NdjsonFramer::new(max_line)),
            FramingKind::Raw => Framer::Raw(RawFramer::new()),
        }
    }

    /// The kind this framer applies.
    pub fn kind(&self) -> FramingKind {
        match self {
            Framer::Sse(_) => FramingKind::Sse,
            Framer::Ndjson(_) => FramingKind::Ndjson,
            Framer::Raw(_) => FramingKind::Raw,
        }
    }

    /// Feeds one network read and appends every frame it completes to `out`.
    /// On error, the frames completed before the bad byte are still appended.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        match self {
            Framer::Sse(f) => f.push(chunk, out),
            Framer::Ndjson(f) => f.push(chunk, out),
            Framer::Raw(f) => f.push(chunk, out),
        }
    }

    /// Ends the body: appends what a well-behaved server would have closed
    /// (an SSE event without its final blank line, an NDJSON line without its
    /// newline), or reports bytes left incomplete.
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        match self {
            Framer::Sse(f) => f.finish(out),
            Framer::Ndjson(f) => f.finish(out),
            Framer::Raw(f) => f.finish(out),
        }
    }
}

/// Keeps the first error of a framer and returns it from every later call,
/// because the state after an error is not meaningful to continue from.
#[derive(Debug, Default)]
struct Poison(Option<FramingError>);

impl Poison {
    /// Runs `f` unless already poisoned; remembers an error it returns.
    fn guard(&mut self, f: impl FnOnce() -> Result<(), FramingError>) -> Result<(), FramingError> {
        if let Some(e) = &self.0 {
            return Err(e.clone());
        }
        let r = f();
        if let Err(e) = &r {
            self.0 = Some(e.clone());
        }
        r
    }
}

/// Validates one complete line, reporting the body offset of a bad byte.
fn utf8_line(line: &[u8], line_start: u64) -> Result<&str, FramingError> {
    std::str::from_utf8(line).map_err(|e| FramingError::InvalidUtf8 {
        offset: line_start + e.valid_up_to() as u64,
    })
}
