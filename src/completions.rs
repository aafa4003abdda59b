//! Finished work waiting to be collected by the thread that asked for it: pushed from any thread,
//! taken in batches, either by a waiter that gives up after a bounded time or at once by a thread
//! that was told the list is no longer empty.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::locking::lock;

pub struct Completions<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    items: Vec<T>,
    /// Threads blocked in `take_within`: a push wakes one only when there is one (waking costs a
    /// system call, and the main thread's collector never waits here).
    waiters: usize,
}

impl<T> Default for Completions<T> {
    fn default() -> Self {
        Completions {
            state: Mutex::new(State {
                items: Vec::new(),
                waiters: 0,
            }),
            ready: Condvar::new(),
        }
    }
}

impl<T> Completions<T> {
    /// Adds `item`; true when the list was empty, i.e. when the collector needs telling.
    pub fn push(&self, item: T) -> bool {
        let (was_empty, wake) = {
            let mut state = lock(&self.state);
            state.items.push(item);
            (state.items.len() == 1, state.waiters > 0)
        };
        if wake {
            self.ready.notify_one();
        }
        was_empty
    }

    /// Everything pushed since the last take, without waiting.
    pub fn take_now(&self) -> Vec<T> {
        std::mem::take(&mut lock(&self.state).items)
    }

    /// Everything pushed since the last take, waiting up to `timeout` for at least one item
    /// (an empty list when none came).
    pub fn take_within(&self, timeout: Duration) -> Vec<T> {
        let mut state = lock(&self.state);
        state.waiters += 1;
        let (mut state, _) = self
            .ready
            .wait_timeout_while(state, timeout, |state| state.items.is_empty())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.waiters -= 1;
        std::mem::take(&mut state.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn takes_everything_pushed_so_far() {
        let completions = Completions::default();
        completions.push(1);
        completions.push(2);
        assert_eq!(completions.take_within(Duration::from_secs(1)), vec![1, 2]);
    }

    #[test]
    fn push_says_when_the_list_stops_being_empty() {
        let completions = Completions::default();
        assert!(completions.push(1));
        assert!(!completions.push(2));
        assert_eq!(completions.take_now(), vec![1, 2]);
        assert!(completions.take_now().is_empty());
        assert!(completions.push(3));
    }

    #[test]
    fn gives_up_after_the_timeout() {
        let completions = Completions::<u8>::default();
        let started = Instant::now();
        assert!(completions
            .take_within(Duration::from_millis(30))
            .is_empty());
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn a_push_from_another_thread_wakes_the_waiter_early() {
        let completions = Arc::new(Completions::default());
        let pusher = completions.clone();
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            pusher.push("done");
        });
        assert_eq!(
            completions.take_within(Duration::from_secs(5)),
            vec!["done"]
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
