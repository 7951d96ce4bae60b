//! Token sources: where a request's output token count `N` comes from, and
//! the per-level tally that shows every source side by side.
//!
//! A request's `N` is the server's `usage.completion_tokens` when it
//! reported one; else the count of the scenario's `tokenizer.json` over the
//! whole reply (special tokens excluded); else the number of content events,
//! which is labelled `chunks` and never called tokens. Chars (Unicode scalar
//! values) are counted for every request. A request whose usage and
//! tokenizer counts differ by more than [`MISMATCH_RATIO`] of the usage
//! count is counted as a mismatch: the tokenizer is likely not the served
//! model's, or the server counts differently.

use crate::results::{SourceCount, TokenSources};
use crate::sample::Sample;
use crate::tokenizer::Tokenizer;

/// Usage and tokenizer counts further apart than this share of the usage
/// count flag the request.
pub const MISMATCH_RATIO: f64 = 0.10;

/// Where one request's output token count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The server's `usage.completion_tokens`.
    Usage,
    /// The scenario's `tokenizer.json` over the whole reply.
    Tokenizer,
    /// Content events counted: not tokens.
    Chunks,
}

impl TokenSource {
    /// The stable name: `usage`, `tokenizer` or `chunks`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::Usage => "usage",
            TokenSource::Tokenizer => "tokenizer",
            TokenSource::Chunks => "chunks",
        }
    }
}

/// A request's output token count `N` and its source: usage, else
/// tokenizer, else chunks.
pub fn output_tokens(s: &Sample) -> (u64, TokenSource) {
    if let Some(n) = s.usage.and_then(|u| u.completion_tokens) {
        (u64::from(n), TokenSource::Usage)
    } else if let Some(n) = s.tokenizer_tokens {
        (u64::from(n), TokenSource::Tokenizer)
    } else {
        (s.content.len() as u64, TokenSource::Chunks)
    }
}

/// Whether usage and tokenizer counts differ by more than
/// [`MISMATCH_RATIO`] of the usage count (any difference when usage is 0).
pub fn mismatch(usage: u32, tokenizer: u32) -> bool {
    let (u, t) = (f64::from(usage), f64::from(tokenizer));
    (t - u).abs() > MISMATCH_RATIO * u
}

/// Counts the reply text kept in `s.text` with `tokenizer` into
/// `s.tokenizer_tokens`, and drops the text. Does nothing when no text was
/// kept. Runs after the request ended, off the I/O path (see
/// [`count_replies`]).
pub fn count_reply(tokenizer: &Tokenizer, s: &mut Sample) {
    if let Some(text) = s.text.take() {
        let n = tokenizer.count(&text);
        s.tokenizer_tokens = Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

/// Most samples [`count_replies`] counts in one blocking call.
pub const BATCH: usize = 256;

/// Counts the kept reply text of every sample in `batch` on tokio's
/// blocking pool, so the collector's worker thread stays free for the
/// requests' I/O meanwhile; returns the samples in their order. Without a
/// tokenizer, or when no sample kept text, returns them as they are.
pub async fn count_replies(
    tokenizer: Option<&std::sync::Arc<Tokenizer>>,
    mut batch: Vec<Sample>,
) -> Vec<Sample> {
    let Some(tokenizer) = tokenizer else {
        return batch;
    };
    if batch.iter().all(|s| s.text.is_none()) {
        return batch;
    }
    let tokenizer = tokenizer.clone();
    let counted = tokio::task::spawn_blocking(move || {
        for s in &mut batch {
            count_reply(&tokenizer, s);
        }
        batch
    })
    .await;
    counted.unwrap_or_else(|e| {
        tracing::error!("token counting stopped: {e}");
        Vec::new()
    })
}

/// Output tokens of a level's successful requests, per source.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TokenTally {
    usage: Count,
    tokenizer: Count,
    chunks: Count,
    chars: Count,
    mismatches: u64,
    /// Requests with both a usage and a tokenizer count.
    both: u64,
    /// Successful requests whose `N` came from each source.
    by_source: [u64; 3],
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Count {
    requests: u64,
    total: u64,
}

impl Count {
    fn add(&mut self, n: u64) {
        self.requests += 1;
        self.total += n;
    }
    fn merge(&mut self, o: &Count) {
        self.requests += o.requests;
        self.total += o.total;
    }
    fn result(&self) -> SourceCount {
        SourceCount {
            requests: self.requests,
            total: self.total,
            mean: if self.requests > 0 {
                self.total as f64 / self.requests as f64
            } else {
                0.0
            },
        }
    }
}

impl TokenTally {
    /// Folds in one successful request.
    pub fn add(&mut self, s: &Sample) {
        let usage = s.usage.and_then(|u| u.completion_tokens);
        if let Some(n) = usage {
            self.usage.add(u64::from(n));
        }
        if let Some(n) = s.tokenizer_tokens {
            self.tokenizer.add(u64::from(n));
        }
        if let (Some(u), Some(t)) = (usage, s.tokenizer_tokens) {
            self.both += 1;
            self.mismatches += u64::from(mismatch(u, t));
        }
        self.chunks.add(s.content.len() as u64);
        self.chars.add(s.chars());
        let i = match output_tokens(s).1 {
            TokenSource::Usage => 0,
            TokenSource::Tokenizer => 1,
            TokenSource::Chunks => 2,
        };
        self.by_source[i] += 1;
    }

    /// Adds another tally of the same level.
    pub fn merge(&mut self, o: &TokenTally) {
        self.usage.merge(&o.usage);
        self.tokenizer.merge(&o.tokenizer);
        self.chunks.merge(&o.chunks);
        self.chars.merge(&o.chars);
        self.mismatches += o.mismatches;
        self.both += o.both;
        for (a, b) in self.by_source.iter_mut().zip(o.by_source) {
            *a += b;
        }
    }

    /// Requests whose usage and tokenizer counts disagree.
    pub fn mismatches(&self) -> u64 {
        self.mismatches
    }

    /// The level's headline source: the one every successful request used,
    /// `mixed` when they differ, `chunks` when no request succeeded.
    pub fn headline_source(&self) -> &'static str {
        match self.by_source {
            [0, 0, _] => TokenSource::Chunks.as_str(),
            [_, 0, 0] => TokenSource::Usage.as_str(),
            [0, _, 0] => TokenSource::Tokenizer.as_str(),
            _ => "mixed",
        }
    }

    /// The figures for results.json.
    pub fn result(&self) -> TokenSources {
        TokenSources {
            usage: (self.usage.requests > 0).then(|| self.usage.result()),
            tokenizer: (self.tokenizer.requests > 0).then(|| self.tokenizer.result()),
            chunks: self.chunks.result(),
            chars: self.chars.result(),
            usage_tokenizer_mismatches: self.mismatches,
        }
    }

    /// The flag a level carries when some request's usage and tokenizer
    /// counts disagree.
    pub fn flag(&self) -> Option<String> {
        (self.mismatches > 0).then(|| {
            format!(
                "token counts disagree: {} of {} requests with both have usage and tokenizer counts more than {:.0}% apart (usage {} vs tokenizer {} tokens in total); check that dataset.tokenizer is the served model's tokenizer.json",
                self.mismatches,
                self.both,
                MISMATCH_RATIO * 100.0,
                self.usage.total,
                self.tokenizer.total,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{ContentEvent, Usage};

    /// A successful request with `chunks` content events of 3 chars each.
    fn reply(chunks: u32, usage: Option<u32>, tokenizer: Option<u32>) -> Sample {
        Sample {
            content: (0..chunks)
                .map(|i| ContentEvent {
                    at: u64::from(i),
                    chars: 3,
                })
                .collect(),
            usage: usage.map(|c| Usage {
                prompt_tokens: None,
                completion_tokens: Some(c),
            }),
            tokenizer_tokens: tokenizer,
            ..Default::default()
        }
    }

    #[test]
    fn source_order_is_usage_then_tokenizer_then_chunks() {
        assert_eq!(
            output_tokens(&reply(5, Some(7), Some(6))),
            (7, TokenSource::Usage)
        );
        assert_eq!(
            output_tokens(&reply(5, None, Some(6))),
            (6, TokenSource::Tokenizer)
        );
        assert_eq!(
            output_tokens(&reply(5, None, None)),
            (5, TokenSource::Chunks)
        );
        // A usage object without completion tokens is no count.
        let mut s = reply(5, None, Some(6));
        s.usage = Some(Usage::default());
        assert_eq!(output_tokens(&s), (6, TokenSource::Tokenizer));
    }

    #[test]
    fn mismatch_is_more_than_ten_percent_of_usage() {
        assert!(!mismatch(100, 110));
        assert!(!mismatch(100, 90));
        assert!(mismatch(100, 111));
        assert!(mismatch(100, 89));
        assert!(!mismatch(0, 0));
        assert!(mismatch(0, 1));
        assert!(mismatch(10, 12));
    }

    #[test]
    fn hand_computed_tally() {
        let mut t = TokenTally::default();
        // usage 10, tokenizer 10, 8 chunks, 24 chars: agree.
        t.add(&reply(8, Some(10), Some(10)));
        // usage 20, tokenizer 25 (25% apart), 16 chunks, 48 chars: mismatch.
        t.add(&reply(16, Some(20), Some(25)));
        // No usage: tokenizer 6, 4 chunks, 12 chars.
        t.add(&reply(4, None, Some(6)));
        let r = t.result();
        let usage = r.usage.unwrap();
        assert_eq!((usage.requests, usage.total), (2, 30));
        assert_eq!(usage.mean, 15.0);
        let tok = r.tokenizer.unwrap();
        assert_eq!((tok.requests, tok.total), (3, 41));
        assert_eq!((r.chunks.requests, r.chunks.total), (3, 28));
        assert_eq!((r.chars.requests, r.chars.total), (3, 84));
        assert_eq!(r.chars.mean, 28.0);
        assert_eq!(r.usage_tokenizer_mismatches, 1);
        assert_eq!(t.headline_source(), "mixed");
        let flag = t.flag().unwrap();
        assert!(
            flag.starts_with("token counts disagree: 1 of 2 requests"),
            "{flag}"
        );
        assert!(flag.contains("usage 30 vs tokenizer 41"), "{flag}");
    }

    #[test]
    fn headline_source_and_merge() {
        let mut a = TokenTally::default();
        assert_eq!(a.headline_source(), "chunks");
        assert!(a.result().usage.is_none() && a.result().tokenizer.is_none());
        a.add(&reply(3, None, Some(4)));
        assert_eq!(a.headline_source(), "tokenizer");
        assert!(a.flag().is_none());
        let mut b = TokenTally::default();
        b.add(&reply(3, Some(3), None));
        assert_eq!(b.headline_source(), "usage");
        let mut c = TokenTally::default();
        c.add(&reply(3, None, None));
        assert_eq!(c.headline_source(), "chunks");
        a.merge(&b);
        assert_eq!(a.headline_source(), "mixed");
        assert_eq!(a.result().chunks.total, 6);
        assert_eq!(a.result().usage.unwrap().total, 3);
    }

    #[tokio::test]
    async fn replies_are_counted_off_the_worker_in_order() {
        let tok = std::sync::Arc::new(crate::tokenizer::tests_support::whitespace_tokenizer());
        let batch: Vec<Sample> = ["a", "a b", "a b c", ""]
            .iter()
            .map(|t| Sample {
                text: Some(t.to_string()),
                ..Default::default()
            })
            .collect();
        let counted = count_replies(Some(&tok), batch.clone()).await;
        let n: Vec<Option<u32>> = counted.iter().map(|s| s.tokenizer_tokens).collect();
        assert_eq!(n, [Some(1), Some(2), Some(3), Some(0)]);
        assert!(counted.iter().all(|s| s.text.is_none()));
        // Without a tokenizer the samples pass through untouched.
        assert_eq!(count_replies(None, batch.clone()).await, batch);
    }

    #[test]
    fn counting_a_reply_drops_its_text() {
        let tok = crate::tokenizer::tests_support::whitespace_tokenizer();
        let mut s = reply(2, None, None);
        s.text = Some("hello big world".into());
        count_reply(&tok, &mut s);
        assert_eq!(s.tokenizer_tokens, Some(3));
        assert!(s.text.is_none());
        // No text kept: nothing counted.
        let mut s = reply(2, None, None);
        count_reply(&tok, &mut s);
        assert_eq!(s.tokenizer_tokens, None);
    }
}
