//! Process-wide state behind POSIX mutexes.
//!
//! The libraries are loaded into C programs, whose authors check their
//! threads with helgrind, DRD or ThreadSanitizer. Those tools follow
//! pthread mutexes; std's locks are futex words they cannot see, so
//! every access to state shared through them would show up in the
//! application's report as a race. A pthread mutex costs the same
//! uncontended (glibc's is a futex word too, behind one call).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

/// A value behind a pthread mutex, for statics: a pthread mutex must not
/// move once used, and a static never moves.
pub struct Lock<T> {
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a guard, which holds the mutex:
// one thread at a time, so sending T between threads is all that is needed.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    pub const fn new(value: T) -> Self {
        Lock { mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER), value: UnsafeCell::new(value) }
    }

    /// Waits for the mutex. Like std's, it is not re-entrant: no code
    /// holding a guard calls back into the application.
    pub fn lock(&self) -> Guard<'_, T> {
        // SAFETY: the mutex was initialised by PTHREAD_MUTEX_INITIALIZER and
        // lives, unmoved, as long as `self`. A default mutex's lock fails
        // only on a relock by its owner, which no path here does.
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex.get()) };
        assert_eq!(rc, 0, "pthread_mutex_lock");
        Guard { lock: self }
    }
}

impl<T: Clone> Lock<Option<T>> {
    /// The value, made by `init` the first time: a lazily made constant.
    pub fn get_or_init(&self, init: impl FnOnce() -> T) -> T {
        self.lock().get_or_insert_with(init).clone()
    }
}

pub struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the mutex.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the mutex, and `&mut self` makes this
        // the only reference through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the mutex is held by this thread, through this guard.
        unsafe { libc::pthread_mutex_unlock(self.lock.mutex.get()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_take_turns() {
        static COUNT: Lock<u64> = Lock::new(0);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        *COUNT.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*COUNT.lock(), 80_000);
    }

    #[test]
    fn made_once() {
        static VALUE: Lock<Option<u32>> = Lock::new(None);
        assert_eq!(VALUE.get_or_init(|| 7), 7);
        assert_eq!(VALUE.get_or_init(|| unreachable!()), 7);
    }
}
