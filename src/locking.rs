//! Locks over plain data that stay usable after a panic elsewhere.

use std::sync::{Mutex, MutexGuard};

/// A poisoned lock only means another thread panicked mid-update of plain data (a map, a list):
/// keep going rather than turn one caught panic into a failure of every later call.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
