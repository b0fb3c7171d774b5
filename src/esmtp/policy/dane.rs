//! DANE for SMTP (RFC 7672 over RFC 6698): which TLSA records are usable,
//! and OpenSSL's own DANE verifier (the one Postfix and Exim use) set up
//! on each connection's `SSL`.

use std::ffi::{c_char, c_int, c_uchar, c_ulong, CString};

use foreign_types::ForeignTypeRef;
use openssl::ssl::{SslContextRef, SslRef};

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub mtype: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    pub fn parse(rdata: &[u8]) -> Option<Tlsa> {
        match rdata {
            [usage, selector, mtype, data @ ..] => {
                Some(Tlsa { usage: *usage, selector: *selector, mtype: *mtype, data: data.to_vec() })
            }
            _ => None,
        }
    }

    /// RFC 7672 §3.1: only DANE-TA(2) and DANE-EE(3) apply to SMTP;
    /// selectors 0/1, matching types 0/1/2 with the digest's length.
    pub fn usable(&self) -> bool {
        let len_ok = match self.mtype {
            0 => !self.data.is_empty(),
            1 => self.data.len() == 32,
            2 => self.data.len() == 64,
            _ => false,
        };
        matches!(self.usage, 2 | 3) && self.selector <= 1 && len_ok
    }

    /// Presentation form, for TLSRPT's policy-string.
    pub fn presentation(&self) -> String {
        let hex: String = self.data.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {} {} {}", self.usage, self.selector, self.mtype, hex)
    }
}

// Not bound by openssl-sys; libssl's DANE API, stable since 1.1.0.
extern "C" {
    fn SSL_CTX_dane_enable(ctx: *mut openssl_sys::SSL_CTX) -> c_int;
    fn SSL_dane_enable(ssl: *mut openssl_sys::SSL, basedomain: *const c_char) -> c_int;
    fn SSL_dane_set_flags(ssl: *mut openssl_sys::SSL, flags: c_ulong) -> c_ulong;
    fn SSL_dane_tlsa_add(
        ssl: *mut openssl_sys::SSL,
        usage: u8,
        selector: u8,
        mtype: u8,
        data: *const c_uchar,
        dlen: usize,
    ) -> c_int;
    fn SSL_get0_dane_authority(
        ssl: *mut openssl_sys::SSL,
        mcert: *mut *mut openssl_sys::X509,
        mspki: *mut *mut openssl_sys::EVP_PKEY,
    ) -> c_int;
    fn SSL_add1_host(ssl: *mut openssl_sys::SSL, host: *const c_char) -> c_int;
    fn SSL_set_hostflags(ssl: *mut openssl_sys::SSL, flags: std::ffi::c_uint);
}

const DANE_FLAG_NO_DANE_EE_NAMECHECKS: c_ulong = 1;
const X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: std::ffi::c_uint = 0x4;

/// Enables DANE on a context; idempotent, and harmless for connections
/// that do not ask for it (the application's own context included).
pub fn enable_on_context(ctx: &SslContextRef) -> bool {
    // SAFETY: a live SSL_CTX.
    unsafe { SSL_CTX_dane_enable(ctx.as_ptr()) > 0 }
}

/// Sets up DANE on a connection before its handshake: the usable records,
/// the TLSA base domain and the MX host as the names DANE-TA certificates
/// must carry (RFC 7672 §3.2.2), none required for DANE-EE. Returns how
/// many records OpenSSL took, `None` when DANE could not be enabled.
pub fn arm(ssl: &mut SslRef, base: &str, mx_host: &str, records: &[Tlsa]) -> Option<usize> {
    let Ok(base) = CString::new(base) else { return None };
    // SAFETY: a live SSL not yet handshaken, NUL-terminated names, and
    // record data valid for each call (OpenSSL copies it).
    unsafe {
        if SSL_dane_enable(ssl.as_ptr(), base.as_ptr()) <= 0 {
            return None;
        }
        SSL_dane_set_flags(ssl.as_ptr(), DANE_FLAG_NO_DANE_EE_NAMECHECKS);
        SSL_set_hostflags(ssl.as_ptr(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if let Ok(mx) = CString::new(mx_host) {
            if mx.as_bytes() != base.as_bytes() {
                SSL_add1_host(ssl.as_ptr(), mx.as_ptr());
            }
        }
        let mut taken = 0;
        for t in records {
            if SSL_dane_tlsa_add(ssl.as_ptr(), t.usage, t.selector, t.mtype, t.data.as_ptr(), t.data.len())
                > 0
            {
                taken += 1;
            }
        }
        Some(taken)
    }
}

/// The depth of the certificate a TLSA record matched, if DANE
/// authenticated the peer.
pub fn authority_depth(ssl: &SslRef) -> Option<i32> {
    // SAFETY: a live SSL after its handshake; the out-pointers may be null.
    let d = unsafe { SSL_get0_dane_authority(ssl.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut()) };
    (d >= 0).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usability_follows_rfc7672() {
        let t = |u, s, m, n| Tlsa { usage: u, selector: s, mtype: m, data: vec![0xAB; n] };
        assert!(t(3, 1, 1, 32).usable());
        assert!(t(2, 0, 2, 64).usable());
        assert!(t(3, 0, 0, 300).usable());
        assert!(!t(1, 1, 1, 32).usable(), "PKIX-EE is not for SMTP");
        assert!(!t(0, 1, 1, 32).usable(), "PKIX-TA is not for SMTP");
        assert!(!t(3, 2, 1, 32).usable(), "unknown selector");
        assert!(!t(3, 1, 3, 32).usable(), "unknown matching type");
        assert!(!t(3, 1, 1, 31).usable(), "short SHA-256");
        assert!(!t(3, 1, 2, 32).usable(), "SHA-512 of the wrong length");
        assert!(!t(3, 1, 0, 0).usable());
        assert_eq!(Tlsa::parse(&[3, 1]), None);
        assert_eq!(t(3, 1, 1, 2).presentation(), "3 1 1 abab");
    }
}

#[cfg(test)]
mod openssl_tests {
    use super::*;
    use openssl::ssl::{Ssl, SslContext, SslMethod};

    /// A record our checks pass but OpenSSL refuses (a "full certificate"
    /// that is not DER): none taken, so the caller falls back to
    /// unauthenticated TLS (RFC 7672 §2.2) instead of failing the session.
    #[test]
    fn records_openssl_refuses_are_counted_out() {
        let bad = Tlsa { usage: 3, selector: 1, mtype: 0, data: vec![0xAB; 40] };
        let good = Tlsa { usage: 3, selector: 1, mtype: 1, data: vec![0xAB; 32] };
        assert!(bad.usable());
        let ctx = SslContext::builder(SslMethod::tls()).unwrap().build();
        assert!(enable_on_context(&ctx));
        let mut ssl = Ssl::new(&ctx).unwrap();
        assert_eq!(arm(&mut ssl, "mx.example", "mx.example", std::slice::from_ref(&bad)), Some(0));
        let mut ssl = Ssl::new(&ctx).unwrap();
        assert_eq!(arm(&mut ssl, "mx.example", "mx.example", &[bad, good]), Some(1));
    }
}
