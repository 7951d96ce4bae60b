//! The line splitter shared by SSE and NDJSON framing.
//!
//! It hands complete lines (without their line end) to a callback. A line that
//! lies wholly inside one read is passed as a slice of that read, so the common
//! case copies nothing; only the unfinished tail of a read is kept, in one
//! reused buffer.

use super::FramingError;

/// Which bytes end a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEnds {
    /// CRLF, LF or a lone CR (the event-stream rules).
    CrLfOrEither,
    /// LF only; a CR before it stays in the line for the caller to strip.
    Lf,
}

/// Splits a byte stream into lines across reads.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    ends: LineEnds,
    max_line: usize,
    /// The unfinished line carried over from earlier reads.
    partial: Vec<u8>,
    /// The last read ended in CR: an LF opening the next read belongs to it.
    pending_cr: bool,
    /// Body offset of the next byte to be pushed.
    pos: u64,
    /// Body offset of the first byte of the current line.
    line_start: u64,
}

impl LineSplitter {
    /// A splitter whose lines may not exceed `max_line` bytes.
    pub(crate) fn new(ends: LineEnds, max_line: usize) -> Self {
        LineSplitter {
            ends,
            max_line,
            partial: Vec::new(),
            pending_cr: false,
            pos: 0,
            line_start: 0,
        }
    }

    /// Skips `n` bytes that the caller consumed itself (a BOM), so offsets
    /// keep counting from the start of the body.
    pub(crate) fn skip(&mut self, n: u64) {
        self.pos += n;
        self.line_start = self.pos;
    }

    /// Feeds one read, calling `on_line(line, offset_of_line)` for every line
    /// it completes.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(&[u8], u64) -> Result<(), FramingError>,
    ) -> Result<(), FramingError> {
        let mut rest = chunk;
        if self.pending_cr {
            if rest.is_empty() {
                return Ok(());
            }
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
                self.skip(1);
            }
        }
        while let Some(i) = self.find_end(rest) {
            let (seg, after) = rest.split_at(i);
            let line_len = self.partial.len() + seg.len();
            if line_len > self.max_line {
                return Err(FramingError::LineTooLong {
                    limit: self.max_line,
                });
            }
            if self.partial.is_empty() {
                on_line(seg, self.line_start)?;
            } else {
                self.partial.extend_from_slice(seg);
                on_line(&self.partial, self.line_start)?;
                self.partial.clear();
            }
            // `after` starts with the line end itself.
            let mut consumed = 1;
            if after[0] == b'\r' {
                match after.get(1) {
                    Some(b'\n') => consumed = 2,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            self.pos += (seg.len() + consumed) as u64;
            self.line_start = self.pos;
            rest = &after[consumed..];
        }
        if self.partial.len() + rest.len() > self.max_line {
            return Err(FramingError::LineTooLong {
                limit: self.max_line,
            });
        }
        self.partial.extend_from_slice(rest);
        self.pos += rest.len() as u64;
        Ok(())
    }

    /// Ends the body: an unfinished last line is handed over as a line, since
    /// servers often close without a final line end.
    pub(crate) fn finish(
        &mut self,
        mut on_line: impl FnMut(&[u8], u64) -> Result<(), FramingError>,
    ) -> Result<(), FramingError> {
        self.pending_cr = false;
        if self.partial.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.partial);
        on_line(&line, self.line_start)?;
        self.line_start = self.pos;
        Ok(())
    }

    /// Index of the first line-end byte in `bytes`.
    #[inline]
    fn find_end(&self, bytes: &[u8]) -> Option<usize> {
        match self.ends {
            LineEnds::Lf => bytes.iter().position(|&b| b == b'\n'),
            LineEnds::CrLfOrEither => bytes.iter().position(|&b| b == b'\n' || b == b'\r'),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(
        ends: LineEnds,
        max: usize,
        chunks: &[&[u8]],
    ) -> Result<Vec<(String, u64)>, FramingError> {
        let mut s = LineSplitter::new(ends, max);
        let mut got = Vec::new();
        let mut collect = |l: &[u8], off: u64| {
            got.push((String::from_utf8_lossy(l).into_owned(), off));
            Ok(())
        };
        for c in chunks {
            s.push(c, &mut collect)?;
        }
        s.finish(&mut collect)?;
        Ok(got)
    }

    #[test]
    fn every_line_end_with_offsets() {
        let got = lines(LineEnds::CrLfOrEither, 100, &[b"a\r\nb\nc\rd"]).unwrap();
        let want = [("a", 0), ("b", 3), ("c", 5), ("d", 7)];
        let want: Vec<(String, u64)> = want.iter().map(|(s, o)| (s.to_string(), *o)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn cr_at_end_of_read_then_lf_is_one_line_end() {
        let got = lines(LineEnds::CrLfOrEither, 100, &[b"a\r", b"", b"\nb\r", b"\r"]).unwrap();
        let texts: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(texts, ["a", "b", ""]);
        assert_eq!(got[1].1, 3);
    }

    #[test]
    fn lf_mode_keeps_cr_in_line() {
        let got = lines(LineEnds::Lf, 100, &[b"a\r", b"\nb\rc\n"]).unwrap();
        let texts: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(texts, ["a\r", "b\rc"]);
    }

    #[test]
    fn limit_counts_carried_bytes_and_never_buffers_past_it() {
        let err = lines(LineEnds::Lf, 4, &[b"ab", b"cd", b"e"]).unwrap_err();
        assert_eq!(err, FramingError::LineTooLong { limit: 4 });
        // Exactly at the limit is fine.
        assert!(lines(LineEnds::Lf, 4, &[b"ab", b"cd\n"]).is_ok());
        let err = lines(LineEnds::Lf, 4, &[b"ab", b"cde\n"]).unwrap_err();
        assert_eq!(err, FramingError::LineTooLong { limit: 4 });
    }
}
