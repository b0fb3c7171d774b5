//! Strings handed to C that C may keep and `free()`: libESMTP's status
//! texts, libopensmtpd's context fields, the TLSRPT report document.

use std::ffi::c_char;

/// A `malloc`ed NUL-terminated copy of `bytes`, null if malloc fails.
///
/// An interior NUL would end the string for C anyway: the copy stops
/// there, as `strdup` of the same bytes would.
pub fn malloc_cstr(bytes: &[u8]) -> *mut c_char {
    let bytes = &bytes[..memchr::memchr(0, bytes).unwrap_or(bytes.len())];
    // SAFETY: malloc of len+1 bytes, then a copy of `len` bytes into it and
    // a terminating NUL, all within the allocation.
    unsafe {
        let p = libc::malloc(bytes.len() + 1).cast::<u8>();
        if !p.is_null() {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            *p.add(bytes.len()) = 0;
        }
        p.cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_up_to_the_first_nul() {
        for (input, want) in [(&b"ok\r\n"[..], &b"ok\r\n"[..]), (b"a\0b", b"a"), (b"", b"")] {
            let p = malloc_cstr(input);
            // SAFETY: `p` is a fresh NUL-terminated copy, freed once below.
            unsafe {
                assert_eq!(std::ffi::CStr::from_ptr(p).to_bytes(), want);
                libc::free(p.cast());
            }
        }
    }
}
