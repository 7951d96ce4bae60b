//! Time-bucketed totals of one level, so throughput can be taken over any
//! window once the level is over (the steady window is only known then).
//!
//! Buckets are 10 ms wide (wider for levels longer than ~2.7 h, so a level
//! never holds more than 2^20 buckets); a window edge that falls inside a
//! bucket takes its share of it in proportion to the overlap, so a window
//! total is exact to within one bucket's content at each edge.

/// Default bucket width, ns.
const WIDTH_NS: u64 = 10_000_000;
/// Most buckets one level may hold.
const MAX_BUCKETS: usize = 1 << 20;

/// Totals per time bucket.
#[derive(Debug, Clone, Default)]
pub struct Buckets {
    start: u64,
    width: u64,
    chars: Vec<f64>,
    tokens: Vec<f64>,
    chunks: Vec<f64>,
    prompt_tokens: Vec<f64>,
    ok_ends: Vec<f64>,
    good_ends: Vec<f64>,
}

/// Totals over one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Content chars that arrived.
    pub chars: f64,
    /// Output tokens, each request's spread over its content events in
    /// proportion to their chars.
    pub tokens: f64,
    /// Content events (chunks).
    pub chunks: f64,
    /// Prompt tokens of successful requests that ended.
    pub prompt_tokens: f64,
    /// Successful requests that ended.
    pub ok: f64,
    /// Good requests (meeting every SLO) that ended.
    pub good: f64,
}

impl Buckets {
    /// Buckets from run-clock `start` for a level expected to last
    /// `expected_ns` (it may run longer: drain).
    pub fn new(start: u64, expected_ns: u64) -> Self {
        let width = WIDTH_NS.max(expected_ns.div_ceil(MAX_BUCKETS as u64 / 2));
        Buckets {
            start,
            width,
            ..Default::default()
        }
    }

    fn index(&mut self, at: u64) -> Option<usize> {
        let i = (at.checked_sub(self.start)? / self.width) as usize;
        if i >= MAX_BUCKETS {
            return None;
        }
        if i >= self.chars.len() {
            let n = i + 1;
            self.chars.resize(n, 0.0);
            self.tokens.resize(n, 0.0);
            self.chunks.resize(n, 0.0);
            self.prompt_tokens.resize(n, 0.0);
            self.ok_ends.resize(n, 0.0);
            self.good_ends.resize(n, 0.0);
        }
        Some(i)
    }

    /// One content event of `chars` chars (and `tokens` output tokens)
    /// arrived at `at`.
    pub fn content(&mut self, at: u64, chars: f64, tokens: f64) {
        if let Some(i) = self.index(at) {
            self.chars[i] += chars;
            self.tokens[i] += tokens;
            self.chunks[i] += 1.0;
        }
    }

    /// A successful request with `prompt_tokens` ended at `at`; `good`
    /// when it met every SLO.
    pub fn ended_ok(&mut self, at: u64, prompt_tokens: f64, good: bool) {
        if let Some(i) = self.index(at) {
            self.ok_ends[i] += 1.0;
            self.prompt_tokens[i] += prompt_tokens;
            self.good_ends[i] += f64::from(u8::from(good));
        }
    }

    /// Adds another level's buckets (same start and width).
    pub fn merge(&mut self, o: &Buckets) {
        for (i, _) in o.chars.iter().enumerate() {
            let at = o.start + i as u64 * o.width;
            if let Some(j) = self.index(at) {
                self.chars[j] += o.chars[i];
                self.tokens[j] += o.tokens[i];
                self.chunks[j] += o.chunks[i];
                self.prompt_tokens[j] += o.prompt_tokens[i];
                self.ok_ends[j] += o.ok_ends[i];
                self.good_ends[j] += o.good_ends[i];
            }
        }
    }

    /// Totals over `[from, to]` (run-clock ns).
    pub fn totals(&self, from: u64, to: u64) -> Totals {
        let mut t = Totals::default();
        if to <= from {
            return t;
        }
        for i in 0..self.chars.len() {
            let b0 = self.start + i as u64 * self.width;
            let b1 = b0 + self.width;
            let overlap = to.min(b1).saturating_sub(from.max(b0));
            if overlap == 0 {
                continue;
            }
            let share = overlap as f64 / self.width as f64;
            t.chars += self.chars[i] * share;
            t.tokens += self.tokens[i] * share;
            t.chunks += self.chunks[i] * share;
            t.prompt_tokens += self.prompt_tokens[i] * share;
            t.ok += self.ok_ends[i] * share;
            t.good += self.good_ends[i] * share;
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn window_totals_with_partial_edges() {
        let mut b = Buckets::new(0, 1000 * MS);
        b.content(5 * MS, 10.0, 2.0); // bucket [0, 10) ms
        b.content(15 * MS, 20.0, 4.0); // bucket [10, 20) ms
        b.ended_ok(15 * MS, 7.0, true);
        b.ended_ok(16 * MS, 0.0, false);
        let all = b.totals(0, 1000 * MS);
        assert_eq!(
            (all.chars, all.tokens, all.ok, all.prompt_tokens),
            (30.0, 6.0, 2.0, 7.0)
        );
        assert_eq!((all.good, all.chunks), (1.0, 2.0));
        // [10, 20): the second bucket whole.
        assert_eq!(b.totals(10 * MS, 20 * MS).chars, 20.0);
        // [5, 15): half of each bucket.
        assert_eq!(b.totals(5 * MS, 15 * MS).chars, 15.0);
        assert_eq!(b.totals(20 * MS, 10 * MS), Totals::default());
    }

    #[test]
    fn long_levels_use_wider_buckets_and_merge() {
        let hour = 3_600_000 * MS;
        let mut a = Buckets::new(0, 10 * hour);
        assert!(a.width > WIDTH_NS);
        a.content(hour, 1.0, 1.0);
        let mut b = Buckets::new(0, 10 * hour);
        b.content(2 * hour, 2.0, 1.0);
        a.merge(&b);
        assert_eq!(a.totals(0, 10 * hour).chars, 3.0);
        assert!(a.chars.len() <= MAX_BUCKETS);
    }
}
