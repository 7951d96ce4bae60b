//! Which item a user sends next.
//!
//! - `random`: each user has its own seeded generator and picks with
//!   replacement, as the original tool did;
//! - `sequential`: one cursor shared by every user walks the items in order,
//!   so each item is sent once before any is sent twice;
//! - `shuffle`: the same shared cursor over one permutation seeded by
//!   `dataset.seed`, the same for every pass.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::scenario::SampleOrder;

/// The state every user's sampler shares: the cursor and the permutation.
#[derive(Debug, Clone)]
pub struct SharedOrder {
    order: SampleOrder,
    cursor: Arc<AtomicU64>,
    permutation: Arc<[u32]>,
    len: u32,
}

impl SharedOrder {
    /// The order for `len` items; `seed` fixes the shuffle.
    pub fn new(order: SampleOrder, len: usize, seed: u64) -> Self {
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        let permutation: Arc<[u32]> = if order == SampleOrder::Shuffle {
            let mut p: Vec<u32> = (0..len).collect();
            p.shuffle(&mut SmallRng::seed_from_u64(seed));
            p.into()
        } else {
            Arc::from(Vec::new())
        };
        SharedOrder {
            order,
            cursor: Arc::new(AtomicU64::new(0)),
            permutation,
            len,
        }
    }

    /// The order.
    pub fn order(&self) -> SampleOrder {
        self.order
    }

    /// A sampler for one user; `seed` seeds its `random` picks.
    pub fn sampler(&self, seed: u64, user: u32) -> Sampler {
        // Mix the user in with a large odd constant so neighbouring users do
        // not get neighbouring seeds.
        let rng =
            SmallRng::seed_from_u64(seed ^ u64::from(user).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Sampler {
            shared: self.clone(),
            rng,
        }
    }
}

/// One user's source of item indexes.
#[derive(Debug, Clone)]
pub struct Sampler {
    shared: SharedOrder,
    rng: SmallRng,
}

impl Sampler {
    /// The index of the next item to send (always below the item count;
    /// 0 for an empty set).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u32 {
        let len = self.shared.len.max(1);
        match self.shared.order {
            SampleOrder::Random => self.rng.random_range(0..len),
            SampleOrder::Sequential => self.tick(len),
            SampleOrder::Shuffle => {
                let at = self.tick(len);
                self.shared
                    .permutation
                    .get(at as usize)
                    .copied()
                    .unwrap_or(0)
            }
        }
    }

    fn tick(&self, len: u32) -> u32 {
        (self.shared.cursor.fetch_add(1, Ordering::Relaxed) % u64::from(len)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(s: &mut Sampler, n: usize) -> Vec<u32> {
        (0..n).map(|_| s.next()).collect()
    }

    #[test]
    fn sequential_is_shared_and_wraps() {
        let order = SharedOrder::new(SampleOrder::Sequential, 3, 0);
        let mut a = order.sampler(1, 0);
        let mut b = order.sampler(1, 1);
        assert_eq!([a.next(), b.next(), a.next(), b.next()], [0, 1, 2, 0]);
    }

    #[test]
    fn shuffle_visits_each_once_per_pass() {
        let order = SharedOrder::new(SampleOrder::Shuffle, 100, 9);
        let mut s = order.sampler(0, 0);
        let first = take(&mut s, 100);
        let mut sorted = first.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<u32>>());
        assert_ne!(first, (0..100).collect::<Vec<u32>>());
        assert_eq!(
            take(&mut s, 100),
            first,
            "every pass repeats the permutation"
        );
        let again = SharedOrder::new(SampleOrder::Shuffle, 100, 9);
        assert_eq!(take(&mut again.sampler(5, 5), 100), first, "seeded");
    }

    #[test]
    fn random_is_seeded_per_user_and_in_range() {
        let order = SharedOrder::new(SampleOrder::Random, 10, 0);
        let a = take(&mut order.sampler(3, 0), 200);
        assert_eq!(a, take(&mut order.sampler(3, 0), 200));
        assert_ne!(a, take(&mut order.sampler(3, 1), 200));
        assert!(a.iter().all(|&i| i < 10));
        let mut seen = a.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen.len(),
            10,
            "with replacement, every item shows up in 200 picks"
        );
        assert_eq!(
            SharedOrder::new(SampleOrder::Random, 0, 0)
                .sampler(0, 0)
                .next(),
            0
        );
    }
}
