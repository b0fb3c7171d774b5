//! The per-session context filters see, and the strings it points to.
//!
//! Each session's `osmtpd_ctx` is boxed and never moves: filters keep the
//! pointer and answer later. Strings in it are `malloc`ed copies owned here,
//! as in libopensmtpd; `rcptto` is a NULL-terminated `malloc`ed array.

use std::collections::HashMap;
use std::ffi::c_char;
use std::hash::{BuildHasherDefault, Hasher};

use crate::common::cstr::malloc_cstr;

use super::ctx::{greeting, osmtpd_ctx, OSMTPD_STATUS_TEMPFAIL};

pub struct Session {
    pub ctx: osmtpd_ctx,
    /// Recipients in `ctx.rcptto` (the array has one more slot, the NULL).
    rcpt_count: usize,
    /// Between tx-begin and tx-commit/tx-rollback.
    pub message_open: bool,
    /// Data lines came for the current message, its final "." not yet.
    pub in_data: bool,
}

/// Replaces a string field, freeing the previous value (libopensmtpd 0.7
/// leaked it for some fields).
pub fn set_string(field: &mut *mut c_char, value: Option<&[u8]>) {
    // SAFETY: the field holds null or a string from malloc_cstr.
    unsafe { libc::free(field.cast()) };
    *field = value.map_or(std::ptr::null_mut(), malloc_cstr);
}

impl Session {
    pub fn new(reqid: u64) -> Box<Session> {
        // SAFETY: osmtpd_ctx is plain data (integers, pointers,
        // sockaddr_storage); all-zero is a valid value of each field.
        let mut ctx: osmtpd_ctx = unsafe { std::mem::zeroed() };
        ctx.reqid = reqid;
        ctx.fcrdns = OSMTPD_STATUS_TEMPFAIL;
        ctx.src.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
        ctx.dst.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
        ctx.greeting = greeting { identity: std::ptr::null_mut() };
        // SAFETY: one NULL pointer slot, the empty list libopensmtpd starts with.
        ctx.rcptto = unsafe { libc::calloc(1, std::mem::size_of::<*mut c_char>()) }.cast();
        Box::new(Session { ctx, rcpt_count: 0, message_open: false, in_data: false })
    }

    pub fn add_rcpt(&mut self, addr: &[u8]) {
        let n = self.rcpt_count;
        // SAFETY: grows the malloc'ed array to n+2 slots, keeps the NULL
        // terminator; on failure the old array stays valid and unchanged.
        unsafe {
            let p = libc::realloc(self.ctx.rcptto.cast(), (n + 2) * std::mem::size_of::<*mut c_char>())
                .cast::<*mut c_char>();
            if p.is_null() {
                return;
            }
            *p.add(n) = malloc_cstr(addr);
            *p.add(n + 1) = std::ptr::null_mut();
            self.ctx.rcptto = p;
        }
        self.rcpt_count += 1;
    }

    /// End of a transaction: the message's fields are cleared.
    pub fn reset_message(&mut self) {
        set_string(&mut self.ctx.mailfrom, None);
        for i in 0..self.rcpt_count {
            // SAFETY: slots 0..rcpt_count hold strings from malloc_cstr.
            unsafe {
                libc::free((*self.ctx.rcptto.add(i)).cast());
                *self.ctx.rcptto.add(i) = std::ptr::null_mut();
            }
        }
        self.rcpt_count = 0;
        self.ctx.evpid = 0;
        self.ctx.msgid = 0;
        self.ctx.local_message = std::ptr::null_mut();
        self.message_open = false;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reset_message();
        set_string(&mut self.ctx.rdns, None);
        set_string(&mut self.ctx.identity, None);
        set_string(&mut self.ctx.greeting.identity, None);
        set_string(&mut self.ctx.ciphers, None);
        // SAFETY: the array from calloc/realloc above; its entries are freed.
        unsafe { libc::free(self.ctx.rcptto.cast()) };
    }
}

/// Hashes smtpd's session ids, looked up for every line. smtpd draws them
/// at random itself, so a multiplicative mix spreads them as well as
/// SipHash would, at a fraction of its cost.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ b as u64);
        }
    }

    fn write_u64(&mut self, v: u64) {
        let h = (self.0 ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = h ^ (h >> 32);
    }
}

/// All live sessions, by smtpd's session id.
#[derive(Default)]
pub struct Sessions {
    map: HashMap<u64, Box<Session>, BuildHasherDefault<IdHasher>>,
}

impl Sessions {
    /// The session for `reqid`, created if new (`true` then).
    pub fn get_or_create(&mut self, reqid: u64) -> (*mut Session, bool) {
        let mut created = false;
        let s = self.map.entry(reqid).or_insert_with(|| {
            created = true;
            Session::new(reqid)
        });
        (&mut **s as *mut Session, created)
    }

    pub fn remove(&mut self, reqid: u64) -> Option<Box<Session>> {
        self.map.remove(&reqid)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether some session is in the middle of a message's data lines.
    pub fn any_in_data(&self) -> bool {
        self.map.values().any(|s| s.in_data)
    }

    /// The live session ids, in increasing order (libopensmtpd's tree order,
    /// so that sessions end in the same order in every run).
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.map.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn fields_and_recipients() {
        let mut s = Session::new(7);
        assert_eq!((s.ctx.reqid, s.ctx.fcrdns), (7, OSMTPD_STATUS_TEMPFAIL));
        set_string(&mut s.ctx.mailfrom, Some(b"a@b"));
        set_string(&mut s.ctx.mailfrom, Some(b"c@d"));
        s.add_rcpt(b"r1@x");
        s.add_rcpt(b"r2@x");
        // SAFETY: reading the strings and array just built.
        unsafe {
            assert_eq!(CStr::from_ptr(s.ctx.mailfrom).to_bytes(), b"c@d");
            assert_eq!(CStr::from_ptr(*s.ctx.rcptto.add(1)).to_bytes(), b"r2@x");
            assert!((*s.ctx.rcptto.add(2)).is_null());
        }
        s.reset_message();
        // SAFETY: as above.
        unsafe { assert!((*s.ctx.rcptto).is_null()) };
        assert!(s.ctx.mailfrom.is_null());
    }

    #[test]
    fn contexts_stay_put() {
        let mut all = Sessions::default();
        let (a, created) = all.get_or_create(1);
        assert!(created);
        for i in 2..100 {
            all.get_or_create(i);
        }
        let (again, created) = all.get_or_create(1);
        assert!(!created && std::ptr::eq(a, again));
        assert!(all.remove(1).is_some() && all.len() == 98);
    }
}
