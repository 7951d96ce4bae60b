//! The mock's load model: decode slots and the running count.
//!
//! A response holds a [`Slot`] while it is generated. With `max_batch` set,
//! slots are a fair semaphore: a request past them waits in arrival order
//! until one frees, and its schedule starts when it gets one, so its TTFT
//! grows by the wait. The number of slots held is `running`, which
//! [`super::schedule::Schedule::next_under`] reads for every token when the
//! gap depends on load.
//!
//! Without `max_batch` a slot is granted at once and the response's
//! schedule starts when its request body was read, exactly as without a
//! load model.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Decode slots and the count of responses holding one.
#[derive(Debug)]
pub(crate) struct Load {
    /// `None`: no limit.
    slots: Option<Arc<Semaphore>>,
    running: AtomicU32,
}

/// A response's hold on a decode slot; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct Slot {
    load: Arc<Load>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// How a response starts: with a slot at once, or after a wait for one.
pub(crate) enum Start {
    /// A slot was free.
    Now(Slot),
    /// Every slot was taken: this resolves when one frees for this response.
    Queued(Pin<Box<dyn Future<Output = Slot> + Send>>),
}

impl Load {
    /// A slot at once when one is free, else a place in the queue.
    pub(crate) fn start(self: &Arc<Self>) -> Start {
        match self.try_admit() {
            Some(slot) => Start::Now(slot),
            None => Start::Queued(Box::pin(Arc::clone(self).admit())),
        }
    }

    /// A model with `max_batch` slots (`None`: no limit).
    pub(crate) fn new(max_batch: Option<u32>) -> Arc<Load> {
        Arc::new(Load {
            slots: max_batch.map(|n| Arc::new(Semaphore::new(n as usize))),
            running: AtomicU32::new(0),
        })
    }

    /// Responses holding a slot now.
    pub(crate) fn running(&self) -> u32 {
        self.running.load(Ordering::Relaxed)
    }

    /// A slot at once, when one is free (always, without a limit).
    pub(crate) fn try_admit(self: &Arc<Self>) -> Option<Slot> {
        let permit = match &self.slots {
            None => None,
            Some(slots) => Some(Arc::clone(slots).try_acquire_owned().ok()?),
        };
        Some(self.grant(permit))
    }

    /// Waits, in arrival order, for a free slot.
    pub(crate) async fn admit(self: Arc<Self>) -> Slot {
        let permit = match &self.slots {
            None => None,
            // The semaphore is never closed, so acquiring only waits.
            Some(slots) => Arc::clone(slots).acquire_owned().await.ok(),
        };
        self.grant(permit)
    }

    fn grant(self: &Arc<Self>, permit: Option<OwnedSemaphorePermit>) -> Slot {
        self.running.fetch_add(1, Ordering::Relaxed);
        Slot {
            load: Arc::clone(self),
            _permit: permit,
        }
    }
}

impl Slot {
    /// Responses holding a slot now, this one included.
    pub(crate) fn running(&self) -> u32 {
        self.load.running()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.load.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn without_a_limit_every_request_runs_at_once() {
        let load = Load::new(None);
        let slots: Vec<Slot> = (0..100).map(|_| load.try_admit().expect("free")).collect();
        assert_eq!(load.running(), 100);
        assert_eq!(slots[0].running(), 100);
        drop(slots);
        assert_eq!(load.running(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_slots_requests_wait_in_arrival_order() {
        let load = Load::new(Some(2));
        let a = load.try_admit().expect("slot 1");
        let b = load.try_admit().expect("slot 2");
        assert!(load.try_admit().is_none(), "both slots are taken");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for name in ["c", "d"] {
            let load = Arc::clone(&load);
            let tx = tx.clone();
            tokio::spawn(async move {
                let slot = load.admit().await;
                tx.send((name, slot.running())).expect("receiver");
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(slot);
            });
            // Let each waiter queue before the next one arrives.
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(rx.try_recv().is_err(), "no slot has freed yet");
        drop(a);
        assert_eq!(rx.recv().await, Some(("c", 2)));
        drop(b);
        assert_eq!(rx.recv().await, Some(("d", 2)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(load.running(), 0);
    }
}
