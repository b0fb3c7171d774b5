//! `smtp_status_t`: a server reply as C code reads it.
//!
//! The library hands out `const smtp_status_t *` pointing into its own
//! objects, and overwrites the contents when a later reply arrives, as the
//! original does. The text is `malloc`ed so its lifetime rules match too.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};

use crate::common::cstr::malloc_cstr;

/// Exactly `struct smtp_status` of libesmtp.h.
#[repr(C)]
#[derive(Debug)]
pub struct SmtpStatus {
    pub code: c_int,
    pub text: *mut c_char,
    pub enh_class: c_int,
    pub enh_subject: c_int,
    pub enh_detail: c_int,
}

/// A status slot owned by a message, recipient or ETRN node.
///
/// Interior mutability through `UnsafeCell` because C holds a pointer to the
/// slot and reads it between our writes; all access is on the session's
/// thread (handles are `!Sync`).
pub struct StatusCell(UnsafeCell<SmtpStatus>);

impl Default for StatusCell {
    fn default() -> Self {
        StatusCell(UnsafeCell::new(SmtpStatus {
            code: 0,
            text: std::ptr::null_mut(),
            enh_class: 0,
            enh_subject: 0,
            enh_detail: 0,
        }))
    }
}

impl StatusCell {
    pub fn as_ptr(&self) -> *const SmtpStatus {
        self.0.get()
    }

    pub fn code(&self) -> i32 {
        // SAFETY: single-threaded access; no reference into the cell
        // outlives this read.
        unsafe { (*self.0.get()).code }
    }

    /// The text, if any, as Rust reads it (for our own messages).
    pub fn text(&self) -> Option<String> {
        // SAFETY: as in `code`; `text` is null or a NUL-terminated string
        // this cell owns, read before anything can replace it.
        unsafe {
            let p = (*self.0.get()).text;
            (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
        }
    }

    /// Replaces the status; `text` is stored NUL-terminated.
    pub fn set(&self, code: i32, text: Option<&[u8]>, enh: [i32; 3]) {
        self.reset();
        let ptr = match text {
            Some(t) => malloc_cstr(t),
            None => std::ptr::null_mut(),
        };
        // SAFETY: as in `code`; the old text was freed by `reset`.
        let st = unsafe { &mut *self.0.get() };
        st.code = code;
        st.text = ptr;
        st.enh_class = enh[0];
        st.enh_subject = enh[1];
        st.enh_detail = enh[2];
    }

    pub fn reset(&self) {
        // SAFETY: as in `code`.
        let st = unsafe { &mut *self.0.get() };
        if !st.text.is_null() {
            // SAFETY: `text` was allocated by `malloc_cstr`.
            unsafe { libc::free(st.text.cast()) };
        }
        *st = SmtpStatus { code: 0, text: std::ptr::null_mut(), enh_class: 0, enh_subject: 0, enh_detail: 0 };
    }
}

impl Drop for StatusCell {
    fn drop(&mut self) {
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_reset() {
        let s = StatusCell::default();
        s.set(250, Some(b"ok\r\n"), [2, 0, 0]);
        assert_eq!(s.code(), 250);
        // SAFETY: text was just set to a valid C string.
        let text = unsafe { std::ffi::CStr::from_ptr((*s.as_ptr()).text) };
        assert_eq!(text.to_bytes(), b"ok\r\n");
        s.reset();
        assert_eq!(s.code(), 0);
        // SAFETY: reading a field of our own cell.
        assert!(unsafe { (*s.as_ptr()).text.is_null() });
    }
}
