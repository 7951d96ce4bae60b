//! Raw framing: each network read is one frame of text.
//!
//! A read may end inside a UTF-8 sequence; those last one to three bytes are
//! held back and open the next frame, so every frame is whole text and the
//! frames joined equal the body. A read that completes no character gives no
//! frame. Bytes still held back at the end of the body are an error: the body
//! ended inside a character. A read holding a bad byte still delivers the
//! whole characters before it, then fails; so the frames joined always equal
//! the body up to the first bad byte, wherever the reads ended.

use super::{Frame, FramingError, Poison};

/// Frames a body as one frame per read.
#[derive(Debug, Default)]
pub struct RawFramer {
    /// The start of a UTF-8 sequence cut off by the end of the last read.
    carry: [u8; 3],
    carry_len: usize,
    /// Body offset of the next byte to be pushed.
    pos: u64,
    poison: Poison,
}

impl RawFramer {
    /// A fresh framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one read; appends one frame with all the whole characters it
    /// completes.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let RawFramer {
            carry,
            carry_len,
            pos,
            poison,
        } = self;
        poison.guard(|| {
            if chunk.is_empty() {
                return Ok(());
            }
            // Body offset of the first byte of `bytes` below.
            let start = *pos - *carry_len as u64;
            *pos += chunk.len() as u64;
            let (text, result) = if *carry_len == 0 {
                let (text, result) = split_complete(chunk, start, carry, carry_len);
                (text.to_owned(), result)
            } else {
                let mut bytes = Vec::with_capacity(*carry_len + chunk.len());
                bytes.extend_from_slice(&carry[..*carry_len]);
                bytes.extend_from_slice(chunk);
                let (text, result) = split_complete(&bytes, start, carry, carry_len);
                bytes.truncate(text.len());
                // `bytes` now holds exactly the validated prefix.
                let text = String::from_utf8(bytes).unwrap_or_default();
                (text, result)
            };
            // The whole characters before a bad byte are still a frame, so
            // the text delivered never depends on where the reads ended.
            if !text.is_empty() {
                out.push(Frame {
                    event: None,
                    data: text,
                });
            }
            result
        })
    }

    /// Ends the body; fails if it ended inside a UTF-8 sequence.
    pub fn finish(&mut self, _out: &mut Vec<Frame>) -> Result<(), FramingError> {
        let RawFramer {
            carry_len,
            pos,
            poison,
            ..
        } = self;
        poison.guard(|| {
            if *carry_len == 0 {
                Ok(())
            } else {
                Err(FramingError::InvalidUtf8 {
                    offset: *pos - *carry_len as u64,
                })
            }
        })
    }
}

/// The longest prefix of `bytes` made of whole characters, and whether the
/// rest is fine. An unfinished sequence at the end goes to `carry`; any other
/// bad byte is an error at its body offset (`start` is the offset of
/// `bytes[0]`).
fn split_complete<'a>(
    bytes: &'a [u8],
    start: u64,
    carry: &mut [u8; 3],
    carry_len: &mut usize,
) -> (&'a str, Result<(), FramingError>) {
    let e = match std::str::from_utf8(bytes) {
        Ok(s) => {
            *carry_len = 0;
            return (s, Ok(()));
        }
        Err(e) => e,
    };
    let valid = e.valid_up_to();
    let (good, tail) = bytes.split_at(valid);
    // `from_utf8` just vouched for `good`.
    let good = std::str::from_utf8(good).unwrap_or_default();
    // `error_len() == None` means the input ended mid-sequence, and such a
    // tail is at most three bytes.
    if e.error_len().is_some() || tail.len() > carry.len() {
        let err = FramingError::InvalidUtf8 {
            offset: start + valid as u64,
        };
        return (good, Err(err));
    }
    carry[..tail.len()].copy_from_slice(tail);
    *carry_len = tail.len();
    (good, Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(chunks: &[&[u8]]) -> Result<Vec<String>, FramingError> {
        let mut f = RawFramer::new();
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out)?;
        }
        f.finish(&mut out)?;
        assert!(out.iter().all(|f| f.event.is_none()));
        Ok(out.into_iter().map(|f| f.data).collect())
    }

    #[test]
    fn each_read_is_one_frame() {
        assert_eq!(
            frames(&[b"data: a\n\n", b"", b"{\"x\":1}"]).unwrap(),
            ["data: a\n\n", "{\"x\":1}"]
        );
    }

    #[test]
    fn split_sequence_is_held_back() {
        let body = "a中🙂".as_bytes(); // 1 + 3 + 4 bytes
        assert_eq!(frames(&[&body[..2], &body[2..]]).unwrap(), ["a", "中🙂"]);
        assert_eq!(
            frames(&[
                &body[..1],
                &body[1..2],
                &body[2..3],
                &body[3..5],
                &body[5..]
            ])
            .unwrap(),
            ["a", "中", "🙂"]
        );
        // Every byte apart: a frame only when a character completes.
        let single: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(frames(&single).unwrap(), ["a", "中", "🙂"]);
    }

    #[test]
    fn invalid_bytes_and_truncated_end() {
        assert_eq!(
            frames(&[b"ab\xFFc"]).unwrap_err(),
            FramingError::InvalidUtf8 { offset: 2 }
        );
        // A bad continuation after a carried lead byte.
        assert_eq!(
            frames(&[b"ab\xE4", b"x"]).unwrap_err(),
            FramingError::InvalidUtf8 { offset: 2 }
        );
        assert_eq!(
            frames(&[b"ab", b"\xE4\xB8"]).unwrap_err(),
            FramingError::InvalidUtf8 { offset: 2 }
        );
    }

    #[test]
    fn error_sticks() {
        let mut f = RawFramer::new();
        let mut out = Vec::new();
        let err = f.push(b"ok\xFF", &mut out).unwrap_err();
        assert_eq!(err, FramingError::InvalidUtf8 { offset: 2 });
        assert_eq!(f.push(b"ok", &mut out).unwrap_err(), err);
        assert_eq!(f.finish(&mut out).unwrap_err(), err);
        // The text before the bad byte was delivered.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "ok");
    }
}
