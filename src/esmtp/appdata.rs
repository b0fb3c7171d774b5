//! Application data with an optional release callback, as every libESMTP
//! handle carries.

use std::cell::Cell;
use std::ffi::c_void;

pub type ReleaseFn = unsafe extern "C" fn(*mut c_void);

#[derive(Default)]
pub struct AppData {
    data: Cell<Option<std::ptr::NonNull<c_void>>>,
    release: Cell<Option<ReleaseFn>>,
}

impl AppData {
    pub fn get(&self) -> *mut c_void {
        self.data.get().map_or(std::ptr::null_mut(), |p| p.as_ptr())
    }

    /// The deprecated setter: returns the old data and forgets the release
    /// callback without calling it.
    pub fn replace(&self, data: *mut c_void) -> *mut c_void {
        let old = self.get();
        self.data.set(std::ptr::NonNull::new(data));
        self.release.set(None);
        old
    }

    /// Releases the old data (when both it and a release callback exist),
    /// then stores the new pair.
    pub fn set_with_release(&self, data: *mut c_void, release: Option<ReleaseFn>) {
        self.release_now();
        self.data.set(std::ptr::NonNull::new(data));
        self.release.set(release);
    }

    fn release_now(&self) {
        if let (Some(d), Some(rel)) = (self.data.take(), self.release.take()) {
            // SAFETY: the application registered `rel` for exactly this
            // pointer; it is called once, after which both are cleared.
            unsafe { rel(d.as_ptr()) };
        }
    }
}

impl Drop for AppData {
    fn drop(&mut self) {
        self.release_now();
    }
}
