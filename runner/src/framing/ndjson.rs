//! Newline-delimited JSON: one frame per non-empty line.
//!
//! Lines end in LF; a CR just before the LF is dropped, so CRLF bodies work.
//! A lone CR is not a line end (JSON escapes CR inside strings, so a raw CR
//! can only be whitespace). Lines holding only ASCII whitespace are skipped,
//! as they are between JSON values. The frame's data is the line as sent; the
//! plugin parses it. An unfinished last line is a frame at the end of the body.

use super::lines::{LineEnds, LineSplitter};
use super::{Frame, FramingError, Poison, utf8_line};

/// Frames a newline-delimited body.
#[derive(Debug)]
pub struct NdjsonFramer {
    lines: LineSplitter,
    poison: Poison,
}

impl NdjsonFramer {
    /// A fresh framer whose lines may not exceed `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        NdjsonFramer {
            lines: LineSplitter::new(LineEnds::Lf, max_line),
            poison: Poison::default(),
        }
    }

    /// Feeds one read; appends a frame for every line it completes.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let NdjsonFramer { lines, poison } = self;
        poison.guard(|| lines.push(chunk, |l, off| line(l, off, out)))
    }

    /// Ends the body; an unfinished last line becomes a frame.
    pub fn finish(&mut self, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let NdjsonFramer { lines, poison } = self;
        poison.guard(|| lines.finish(|l, off| line(l, off, out)))
    }
}

/// Turns one line into a frame, unless it is blank.
fn line(line: &[u8], offset: u64, out: &mut Vec<Frame>) -> Result<(), FramingError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let text = utf8_line(line, offset)?;
    out.push(Frame {
        event: None,
        data: text.to_owned(),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_max(chunks: &[&[u8]], max: usize) -> Result<Vec<String>, FramingError> {
        let mut f = NdjsonFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out)?;
        }
        f.finish(&mut out)?;
        assert!(out.iter().all(|f| f.event.is_none()));
        Ok(out.into_iter().map(|f| f.data).collect())
    }

    fn frames(chunks: &[&[u8]]) -> Result<Vec<String>, FramingError> {
        frames_max(chunks, 1024)
    }

    #[test]
    fn one_frame_per_line() {
        assert_eq!(
            frames(&[b"{\"a\":1}\n{\"b\":2}\n"]).unwrap(),
            ["{\"a\":1}", "{\"b\":2}"]
        );
    }

    #[test]
    fn crlf_tolerated_and_blank_lines_skipped() {
        let got = frames(&[b"{\"a\":1}\r\n\r\n\n  \t\r\n{\"b\":2}\r\n"]).unwrap();
        assert_eq!(got, ["{\"a\":1}", "{\"b\":2}"]);
        // CR split from its LF.
        assert_eq!(frames(&[b"x\r", b"\ny\n"]).unwrap(), ["x", "y"]);
    }

    #[test]
    fn lone_cr_is_not_a_line_end() {
        assert_eq!(frames(&[b"a\rb\n"]).unwrap(), ["a\rb"]);
    }

    #[test]
    fn line_content_is_kept_as_sent() {
        assert_eq!(frames(&[b"  {\"a\": 1}  \n"]).unwrap(), ["  {\"a\": 1}  "]);
    }

    #[test]
    fn last_line_without_newline() {
        assert_eq!(frames(&[b"a\nb"]).unwrap(), ["a", "b"]);
        assert_eq!(frames(&[b"a\nb\r"]).unwrap(), ["a", "b"]);
    }

    #[test]
    fn utf8_split_across_reads() {
        let body = "{\"t\":\"中文🙂\"}\n".as_bytes();
        for i in 0..=body.len() {
            let (a, b) = body.split_at(i);
            assert_eq!(
                frames(&[a, b]).unwrap(),
                ["{\"t\":\"中文🙂\"}"],
                "split at {i}"
            );
        }
    }

    #[test]
    fn invalid_utf8_and_long_lines() {
        assert_eq!(
            frames(&[b"ok\n{\"a\":\"\xC0\"}\n"]).unwrap_err(),
            FramingError::InvalidUtf8 { offset: 9 }
        );
        assert_eq!(
            frames_max(&[b"12345", b"6\n"], 5).unwrap_err(),
            FramingError::LineTooLong { limit: 5 }
        );
        assert_eq!(frames_max(&[b"12345\n"], 5).unwrap(), ["12345"]);
    }
}
