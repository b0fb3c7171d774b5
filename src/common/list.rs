//! An append-only list whose elements never move.
//!
//! C code holds raw pointers to messages, recipients and ETRN nodes for as
//! long as their session lives, and may add new ones from inside a callback
//! while the protocol engine is walking the list. Elements are boxed and
//! never removed before the list itself is dropped, so a shared reference
//! to an element stays valid while the list is borrowed.

use std::cell::RefCell;

pub struct FrozenList<T> {
    items: RefCell<Vec<Box<T>>>,
}

impl<T> Default for FrozenList<T> {
    fn default() -> Self {
        FrozenList { items: RefCell::new(Vec::new()) }
    }
}

impl<T> FrozenList<T> {
    pub fn push(&self, value: T) -> &T {
        let boxed = Box::new(value);
        let ptr: *const T = &*boxed;
        self.items.borrow_mut().push(boxed);
        // SAFETY: the box's heap allocation does not move when the Vec
        // reallocates, and boxes are only dropped with the list, which `&self`
        // keeps alive for the returned lifetime.
        unsafe { &*ptr }
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        let items = self.items.borrow();
        let ptr: *const T = &**items.get(index)?;
        // SAFETY: as in `push`: boxed elements are never moved or freed
        // while `&self` is alive.
        Some(unsafe { &*ptr })
    }

    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Iterates by index, so elements appended during the walk are seen and
    /// no borrow is held while the caller's code runs.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        (0..).map_while(move |i| self.get(i))
    }

    /// Whether `ptr` points at one of this list's elements.
    pub fn contains_ptr(&self, ptr: *const T) -> bool {
        self.items.borrow().iter().any(|b| std::ptr::eq(&**b, ptr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_stay_put_while_growing() {
        let list = FrozenList::default();
        let first: *const u32 = list.push(1u32);
        for i in 0..1000 {
            list.push(i);
        }
        assert!(std::ptr::eq(first, list.get(0).unwrap()));
        assert_eq!(list.iter().count(), 1001);
        assert!(list.contains_ptr(first));
    }
}
