//! Server-sent events, per the WHATWG event-stream interpretation rules.
//!
//! - Lines end in CRLF, LF or CR; a CR that ends one read and an LF that opens
//!   the next are one line end.
//! - `data:` with or without one leading space; several `data:` lines of one
//!   event are joined with `\n`.
//! - `event:` names the frame; an empty name counts as none (the spec's
//!   default `message`).
//! - `:` comment lines, `id:`, `retry:` and unknown fields are ignored.
//! - A blank line dispatches the event, but only when it has at least one
//!   `data:` line (a `data:` with an empty value counts); an event with no
//!   data is dropped, and its name with it.
//! - A UTF-8 BOM at the very start of the body is skipped.
//!
//! Where this differs from the WHATWG text, on purpose: at the end of the body
//! an unfinished last line is still read, and a pending event with data is
//! dispatched, because many LLM servers close the connection without the
//! final blank line and their last event is real output. Bytes that are not
//! UTF-8 are an error rather than U+FFFD, because a load test must not report
//! mangled text as good output.

use super::lines::{LineEnds, LineSplitter};
use super::{Frame, FramingError, Poison, utf8_line};

/// The UTF-8 byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// Frames a server-sent-events body. See the module docs for the rules.
#[derive(Debug)]
pub struct SseFramer {
    lines: LineSplitter,
    event: EventBuilder,
    /// Bytes seen so far that may still be a BOM (only at the body's start).
    head: [u8; 3],
    head_len: usize,
    /// The body is past the point where a BOM could appear.
    head_done: bool,
    poison: Poison,
}

/// The event being assembled from its field lines.
#[derive(Debug)]
struct EventBuilder {
    data: String,
    has_data: bool,
    name: Option<String>,
    max_data: usize,
}

impl SseFramer {
    /// A fresh framer; `max_line` bounds one line and one event's data.
    pub fn new(max_line: usize) -> Self {
        SseFramer {
            lines: LineSplitter::new(LineEnds::CrLfOrEither, max_line),
            event: EventBuilder {
                data: String::new(),
                has_data: false,
                name: None,
                max_data: max_line,
            },
            head: [0; 3],
            head_len: 0,
            head_done: false,
            poison: Poison::default(),
        }
    }

    /// Feeds one read; appends every event it completes to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let SseFramer {
            lines,
            event,
            head,
            head_len,
            head_done,
            poison,
        } = self;
        poison.guard(|| {
            let mut rest = chunk;
            if !*head_done {
                // Collect up to three bytes to tell a BOM from content, even
                // when the BOM itself is split across reads.
                while *head_len < 3 && !rest.is_empty() && rest[0] == BOM[*head_len] {
                    head[*head_len] = rest[0];
                    *head_len += 1;
                    rest = &rest[1..];
                }
                if *head_len == 3 {
                    *head_done = true;
                    lines.skip(3);
                } else if rest.is_empty() {
                    return Ok(());
                } else {
                    // Not a BOM: the bytes held back are ordinary content.
                    *head_done = true;
                    let held = &head[..*head_len];
                    lines.push(held, |l, off| event.line(l, off, out))?;
                }
            }
            lines.push(rest, |l, off| event.line(l, off, out))
        })
    }

    /// Ends the body: reads an unfinished last line and dispatches a pending
    /// event that has data.
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let SseFramer {
            lines,
            event,
            head,
            head_len,
            head_done,
            poison,
        } = self;
        poison.guard(|| {
            if !*head_done {
                // The body ended inside what could have been a BOM.
                *head_done = true;
                lines.push(&head[..*head_len], |l, off| event.line(l, off, out))?;
            }
            lines.finish(|l, off| event.line(l, off, out))?;
            event.dispatch(out);
            Ok(())
        })
    }
}

impl EventBuilder {
    /// Interprets one complete line.
    fn line(&mut self, line: &[u8], offset: u64, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        let line = utf8_line(line, offset)?;
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                let extra = value.len() + usize::from(self.has_data);
                if self.data.len() + extra > self.max_data {
                    return Err(FramingError::FrameTooLarge {
                        limit: self.max_data,
                    });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => {
                self.name = (!value.is_empty()).then(|| value.to_owned());
            }
            // `id`, `retry` and unknown fields carry nothing a plugin needs.
            _ => {}
        }
        Ok(())
    }

    /// Emits the event if it has data; either way starts a new one.
    fn dispatch(&mut self, out: &mut Vec<Frame>) {
        if self.has_data {
            out.push(Frame {
                event: self.name.take(),
                data: std::mem::take(&mut self.data),
            });
        }
        self.has_data = false;
        self.name = None;
        self.data.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Result<Vec<Frame>, FramingError> {
        frames_max(chunks, super::super::DEFAULT_MAX_LINE)
    }

    fn frames_max(chunks: &[&[u8]], max: usize) -> Result<Vec<Frame>, FramingError> {
        let mut f = SseFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out)?;
        }
        f.finish(&mut out)?;
        Ok(out)
    }

    fn data(s: &str) -> Frame {
        Frame {
            event: None,
            data: s.into(),
        }
    }

    fn named(ev: &str, s: &str) -> Frame {
        Frame {
            event: Some(ev.into()),
            data: s.into(),
        }
    }

    #[test]
    fn lf_crlf_and_cr_line_ends() {
        assert_eq!(frames(&[b"data: a\n\n"]).unwrap(), [data("a")]);
        assert_eq!(frames(&[b"data: a\r\n\r\n"]).unwrap(), [data("a")]);
        assert_eq!(frames(&[b"data: a\r\r"]).unwrap(), [data("a")]);
        assert_eq!(
            frames(&[b"data: a\r\ndata: b\rdata: c\n\r\n"]).unwrap(),
            [data("a\nb\nc")]
        );
    }

    #[test]
    fn cr_at_end_of_read_followed_by_lf_is_not_a_blank_line() {
        // If the split CRLF were two line ends, "a" would be dispatched alone.
        let got = frames(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]).unwrap();
        assert_eq!(got, [data("a\nb")]);
    }

    #[test]
    fn data_with_and_without_space() {
        assert_eq!(frames(&[b"data:x\n\n"]).unwrap(), [data("x")]);
        assert_eq!(frames(&[b"data: x\n\n"]).unwrap(), [data("x")]);
        // Only one space is removed.
        assert_eq!(frames(&[b"data:  x \n\n"]).unwrap(), [data(" x ")]);
        // A value may hold colons.
        assert_eq!(
            frames(&[b"data: {\"a\":1}\n\n"]).unwrap(),
            [data("{\"a\":1}")]
        );
    }

    #[test]
    fn multi_line_data_joined_with_lf() {
        let got = frames(&[b"data: one\ndata:two\ndata\ndata: three\n\n"]).unwrap();
        assert_eq!(got, [data("one\ntwo\n\nthree")]);
    }

    #[test]
    fn comments_id_retry_and_unknown_fields_ignored() {
        let body = b": keep-alive\nid: 7\nretry: 100\nfoo: bar\nDATA: no\ndata: yes\n:\n\n";
        assert_eq!(frames(&[body]).unwrap(), [data("yes")]);
    }

    #[test]
    fn comment_only_events_are_not_dispatched() {
        assert_eq!(frames(&[b": ping\n\n: ping\n\n"]).unwrap(), []);
    }

    #[test]
    fn event_names() {
        let body = b"event: delta\ndata: a\n\ndata: b\n\nevent:done\ndata:\n\n";
        assert_eq!(
            frames(&[body]).unwrap(),
            [named("delta", "a"), data("b"), named("done", "")]
        );
        // An empty name counts as none.
        assert_eq!(frames(&[b"event:\ndata: a\n\n"]).unwrap(), [data("a")]);
        // The last event: line wins.
        assert_eq!(
            frames(&[b"event: x\nevent: y\ndata: a\n\n"]).unwrap(),
            [named("y", "a")]
        );
    }

    #[test]
    fn event_without_data_is_dropped_with_its_name() {
        let got = frames(&[b"event: ping\n\ndata: a\n\n"]).unwrap();
        assert_eq!(got, [data("a")]);
    }

    #[test]
    fn empty_data_line_is_dispatched() {
        assert_eq!(frames(&[b"data:\n\n"]).unwrap(), [data("")]);
        assert_eq!(frames(&[b"data\n\n"]).unwrap(), [data("")]);
    }

    #[test]
    fn blank_lines_between_events_dispatch_nothing_extra() {
        assert_eq!(frames(&[b"\n\n\ndata: a\n\n\n\n"]).unwrap(), [data("a")]);
    }

    #[test]
    fn bom_at_start_is_skipped_even_when_split() {
        assert_eq!(frames(&[b"\xEF\xBB\xBFdata: a\n\n"]).unwrap(), [data("a")]);
        assert_eq!(
            frames(&[b"\xEF", b"\xBB", b"\xBF", b"data: a\n\n"]).unwrap(),
            [data("a")]
        );
        // Only one BOM, and only at the start: a second one is part of the
        // field name, which makes it an unknown field.
        assert_eq!(
            frames(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"]).unwrap(),
            []
        );
        assert_eq!(
            frames(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]).unwrap(),
            [data("a")]
        );
    }

    #[test]
    fn partial_bom_prefix_is_content() {
        // "\xEF\xBB" then "d" is not a BOM and not UTF-8.
        assert_eq!(
            frames(&[b"\xEF\xBB", b"data: a\n\n"]).unwrap_err(),
            FramingError::InvalidUtf8 { offset: 0 }
        );
        assert_eq!(
            frames(&[b"\xEF"]).unwrap_err(),
            FramingError::InvalidUtf8 { offset: 0 }
        );
    }

    #[test]
    fn finish_dispatches_pending_event_and_unfinished_line() {
        assert_eq!(frames(&[b"data: a\n"]).unwrap(), [data("a")]);
        assert_eq!(frames(&[b"data: a"]).unwrap(), [data("a")]);
        assert_eq!(
            frames(&[b"data: a\n\ndata: b"]).unwrap(),
            [data("a"), data("b")]
        );
        assert_eq!(frames(&[b"event: x\n"]).unwrap(), []);
        assert_eq!(frames(&[b""]).unwrap(), []);
    }

    #[test]
    fn utf8_split_inside_a_sequence() {
        let body = "data: 你好🙂\n\n".as_bytes();
        for i in 0..body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(frames(&[a, b]).unwrap(), [data("你好🙂")], "split at {i}");
        }
    }

    #[test]
    fn invalid_utf8_reports_body_offset() {
        let err = frames(&[b"data: a\n\ndata: b\xFFc\n\n"]).unwrap_err();
        assert_eq!(err, FramingError::InvalidUtf8 { offset: 16 });
        // Counted from the body start, a BOM included.
        let err = frames(&[b"\xEF\xBB\xBFdata: \xC3\n\n"]).unwrap_err();
        assert_eq!(err, FramingError::InvalidUtf8 { offset: 9 });
        // A sequence cut off by the end of the body.
        let err = frames(&[b"data: \xE4\xBD"]).unwrap_err();
        assert_eq!(err, FramingError::InvalidUtf8 { offset: 6 });
        // Even in a comment: the body is not text.
        let err = frames(&[b": \xFF\n"]).unwrap_err();
        assert_eq!(err, FramingError::InvalidUtf8 { offset: 2 });
    }

    #[test]
    fn frames_before_an_error_are_kept_and_the_error_sticks() {
        let mut f = SseFramer::new(1024);
        let mut out = Vec::new();
        let err = f.push(b"data: a\n\ndata: \xFF\n\n", &mut out).unwrap_err();
        assert_eq!(out, [data("a")]);
        assert_eq!(f.push(b"data: b\n\n", &mut out).unwrap_err(), err);
        assert_eq!(f.finish(&mut out).unwrap_err(), err);
        assert_eq!(out, [data("a")]);
    }

    #[test]
    fn line_too_long() {
        let err = frames_max(&[b"data: 0123456789"], 10).unwrap_err();
        assert_eq!(err, FramingError::LineTooLong { limit: 10 });
        let err = frames_max(&[b"data: 01", b"23", b"45\n\n"], 10).unwrap_err();
        assert_eq!(err, FramingError::LineTooLong { limit: 10 });
        // A line of exactly the limit passes; the line end does not count.
        assert_eq!(
            frames_max(&[b"data: 0123\r\n\r\n"], 10).unwrap(),
            [data("0123")]
        );
    }

    #[test]
    fn event_data_is_bounded_too() {
        let err = frames_max(&[b"data: 0123\ndata: 4567\ndata: 8\n\n"], 10).unwrap_err();
        assert_eq!(err, FramingError::FrameTooLarge { limit: 10 });
        // "0123\n4567" is 9 bytes: fine.
        assert_eq!(
            frames_max(&[b"data: 0123\ndata: 4567\n\n"], 10).unwrap(),
            [data("0123\n4567")]
        );
    }

    #[test]
    fn openai_style_stream() {
        let body = b"data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
                     data: {\"choices\":[{\"delta\":{\"content\":\"!\"}}]}\n\n\
                     data: [DONE]\n\n";
        let got = frames(&[body]).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], data("[DONE]"));
    }
}
