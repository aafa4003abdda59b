//! Finished work waiting to be collected by the thread that asked for it: pushed from any thread,
//! taken in batches by that thread, either when told the list is no longer empty (main thread) or
//! on its own timer (worker threads).

use std::sync::Mutex;

use crate::locking::lock;

pub struct Completions<T> {
    items: Mutex<Vec<T>>,
}

impl<T> Default for Completions<T> {
    fn default() -> Self {
        Completions {
            items: Mutex::new(Vec::new()),
        }
    }
}

impl<T> Completions<T> {
    /// Adds `item`; true when the list was empty, i.e. when the collector needs telling.
    pub fn push(&self, item: T) -> bool {
        let mut items = lock(&self.items);
        items.push(item);
        items.len() == 1
    }

    /// Everything pushed since the last take, without waiting.
    pub fn take_now(&self) -> Vec<T> {
        std::mem::take(&mut *lock(&self.items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
    fn pushes_from_other_threads_are_all_taken() {
        let completions = Arc::new(Completions::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let pusher = completions.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        pusher.push(t * 100 + i);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let mut all = completions.take_now();
        all.sort();
        assert_eq!(all, (0..400).collect::<Vec<_>>());
    }
}
