//! `struct osmtpd_ctx` exactly as Debian's libopensmtpd 0.7 header lays it
//! out: filters read its fields directly and keep pointers to it.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};

pub const OSMTPD_STATUS_OK: c_int = 0;
pub const OSMTPD_STATUS_TEMPFAIL: c_int = 1;
pub const OSMTPD_STATUS_PERMFAIL: c_int = 2;

/// `struct greeting` nested in the context.
#[repr(C)]
pub struct greeting {
    pub identity: *mut c_char,
}

#[repr(C)]
pub struct osmtpd_ctx {
    /// `enum osmtpd_type`: 0 filter, 1 report.
    pub type_: c_int,
    /// `enum osmtpd_phase`.
    pub phase: c_int,
    pub version_major: c_int,
    pub version_minor: c_int,
    pub tm: libc::timespec,
    pub incoming: c_int,
    pub reqid: u64,
    pub token: u64,
    pub src: libc::sockaddr_storage,
    pub dst: libc::sockaddr_storage,
    pub rdns: *mut c_char,
    /// `enum osmtpd_status`.
    pub fcrdns: c_int,
    pub identity: *mut c_char,
    pub greeting: greeting,
    pub ciphers: *mut c_char,
    pub msgid: u32,
    pub mailfrom: *mut c_char,
    /// NULL-terminated array of recipients.
    pub rcptto: *mut *mut c_char,
    pub evpid: u64,
    pub local_session: *mut c_void,
    pub local_message: *mut c_void,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// The layout measured from Debian's header (gcc, x86_64).
    #[test]
    fn layout_matches_libopensmtpd_0_7() {
        assert_eq!((size_of::<osmtpd_ctx>(), align_of::<osmtpd_ctx>()), (400, 8));
        let offsets = [
            offset_of!(osmtpd_ctx, type_),
            offset_of!(osmtpd_ctx, phase),
            offset_of!(osmtpd_ctx, version_major),
            offset_of!(osmtpd_ctx, version_minor),
            offset_of!(osmtpd_ctx, tm),
            offset_of!(osmtpd_ctx, incoming),
            offset_of!(osmtpd_ctx, reqid),
            offset_of!(osmtpd_ctx, token),
            offset_of!(osmtpd_ctx, src),
            offset_of!(osmtpd_ctx, dst),
            offset_of!(osmtpd_ctx, rdns),
            offset_of!(osmtpd_ctx, fcrdns),
            offset_of!(osmtpd_ctx, identity),
            offset_of!(osmtpd_ctx, greeting),
            offset_of!(osmtpd_ctx, ciphers),
            offset_of!(osmtpd_ctx, msgid),
            offset_of!(osmtpd_ctx, mailfrom),
            offset_of!(osmtpd_ctx, rcptto),
            offset_of!(osmtpd_ctx, evpid),
            offset_of!(osmtpd_ctx, local_session),
            offset_of!(osmtpd_ctx, local_message),
        ];
        assert_eq!(
            offsets,
            [0, 4, 8, 12, 16, 32, 40, 48, 56, 184, 312, 320, 328, 336, 344, 352, 360, 368, 376, 384, 392]
        );
    }
}
