//! DANE for SMTP (RFC 7672 over RFC 6698): which TLSA records are usable,
//! and OpenSSL's own DANE verifier (the one Postfix and Exim use) set up
//! on each connection's `SSL`.

use std::ffi::{c_char, c_int, c_uchar, c_ulong, CString};

use foreign_types::ForeignTypeRef;

use crate::common::sync::Lock;
use openssl::ssl::{SslContext, SslContextBuilder, SslContextRef, SslMethod, SslRef};
use openssl::x509::{X509Ref, X509};

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
    fn SSL_get_ciphers(ssl: *const openssl_sys::SSL) -> *mut openssl_sys::stack_st_SSL_CIPHER;
    fn SSL_CTX_get_info_callback(ctx: *mut openssl_sys::SSL_CTX) -> Option<InfoCb>;
    fn SSL_set_info_callback(ssl: *mut openssl_sys::SSL, cb: Option<InfoCb>);
}

type InfoCb = unsafe extern "C" fn(*const openssl_sys::SSL, c_int, c_int);

// SSL_ctrl commands behind libssl's macros (stable since 1.0.2).
const SSL_CTRL_GET_CHAIN_CERTS: c_int = 115;
const SSL_CTRL_SET_VERIFY_CERT_STORE: c_int = 106;

const DANE_FLAG_NO_DANE_EE_NAMECHECKS: c_ulong = 1;
const X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: std::ffi::c_uint = 0x4;

/// The library's DANE-enabled context, shared by every DANE connection
/// of the process. `SSL_dane_enable` wants DANE enabled on the `SSL`'s
/// context, and enabling it on the application's (`smtp_starttls_set_ctx`)
/// would change an object we were lent, racing any thread that uses it.
/// This one is never changed after it is built, so sharing it is safe.
fn dane_context() -> Option<SslContext> {
    static CTX: Lock<Option<Option<SslContext>>> = Lock::new(None);
    CTX.get_or_init(|| {
        let ctx = SslContextBuilder::new(SslMethod::tls_client()).ok()?.build();
        // SAFETY: a live SSL_CTX no other code can reach yet.
        (unsafe { SSL_CTX_dane_enable(ctx.as_ptr()) } > 0).then_some(ctx)
    })
}

/// Moves a connection made from `from` (the application's context, or
/// the library's own) to [`dane_context`], carrying over what the
/// handshake would have taken from `from`: the client certificate, key
/// and chain (the extra chain certificates when there is no chain), the
/// certificate store, the security level, the cipher lists and the info
/// callback. What `SSL_new` already copied into the `SSL` stays: options,
/// protocol versions, verify parameters, ALPN, the message callback.
/// False when it cannot be done; `from` is only read.
pub fn use_dane_context(ssl: &mut SslRef, from: &SslContextRef) -> bool {
    let Some(dane) = dane_context() else { return false };
    let cert = ssl.certificate().map(ToOwned::to_owned);
    let key = ssl.private_key().map(ToOwned::to_owned);
    let level = ssl.security_level();
    let mut chain: *mut openssl_sys::stack_st_X509 = std::ptr::null_mut();
    let (mut tls12, mut tls13) = (Vec::new(), Vec::new());
    // SAFETY: a live SSL not yet handshaken and a live context. The
    // chain and cipher stacks are borrowed from them and read before
    // set_ssl_context frees the SSL's CERT: each certificate is up-ref'd
    // into `held`, each name copied; SSL_CIPHER_get_version returns
    // libssl's static strings. Indices stay below OPENSSL_sk_num.
    let held = unsafe {
        openssl_sys::SSL_ctrl(ssl.as_ptr(), SSL_CTRL_GET_CHAIN_CERTS, 0, (&raw mut chain).cast());
        let ciphers = SSL_get_ciphers(ssl.as_ptr());
        if !ciphers.is_null() {
            for i in 0..openssl_sys::OPENSSL_sk_num(ciphers.cast()) {
                let c = openssl_sys::OPENSSL_sk_value(ciphers.cast(), i) as *const openssl_sys::SSL_CIPHER;
                let name = std::ffi::CStr::from_ptr(openssl_sys::SSL_CIPHER_get_name(c)).to_string_lossy();
                let version = std::ffi::CStr::from_ptr(openssl_sys::SSL_CIPHER_get_version(c));
                if version.to_bytes() == b"TLSv1.3" { &mut tls13 } else { &mut tls12 }
                    .push(name.into_owned());
            }
        }
        if chain.is_null() || openssl_sys::OPENSSL_sk_num(chain.cast()) <= 0 {
            openssl_sys::SSL_CTX_get_extra_chain_certs(from.as_ptr(), &mut chain);
        }
        let n = if chain.is_null() { 0 } else { openssl_sys::OPENSSL_sk_num(chain.cast()) };
        (0..n)
            .filter_map(|i| {
                let x = openssl_sys::OPENSSL_sk_value(chain.cast(), i) as *mut openssl_sys::X509;
                (!x.is_null()).then(|| X509Ref::from_ptr(x).to_owned())
            })
            .collect::<Vec<X509>>()
    };
    if ssl.set_ssl_context(&dane).is_err() {
        return false;
    }
    ssl.set_security_level(level);
    if let (Some(cert), Some(key)) = (&cert, &key) {
        if ssl.set_certificate(cert).is_err() || ssl.set_private_key(key).is_err() {
            return false;
        }
        for x in held {
            if ssl.add_chain_cert(x).is_err() {
                return false;
            }
        }
    }
    // Empty lists are left as the library's defaults (OpenSSL refuses an
    // empty TLS 1.2 list).
    if !tls12.is_empty() && ssl.set_cipher_list(&tls12.join(":")).is_err() {
        return false;
    }
    if ssl.set_ciphersuites(&tls13.join(":")).is_err() {
        return false;
    }
    // SAFETY: live objects; set1 takes its own reference to the store,
    // whose lookups lock internally, so `from` may be in use elsewhere.
    // The info callback is a function pointer the application set.
    unsafe {
        let store = openssl_sys::SSL_CTX_get_cert_store(from.as_ptr());
        if openssl_sys::SSL_ctrl(ssl.as_ptr(), SSL_CTRL_SET_VERIFY_CERT_STORE, 1, store.cast()) <= 0 {
            return false;
        }
        if let Some(cb) = SSL_CTX_get_info_callback(from.as_ptr()) {
            SSL_set_info_callback(ssl.as_ptr(), Some(cb));
        }
    }
    true
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
        let mut ssl = Ssl::new(&ctx).unwrap();
        assert!(use_dane_context(&mut ssl, &ctx));
        assert_eq!(arm(&mut ssl, "mx.example", "mx.example", std::slice::from_ref(&bad)), Some(0));
        let mut ssl = Ssl::new(&ctx).unwrap();
        assert!(use_dane_context(&mut ssl, &ctx));
        assert_eq!(arm(&mut ssl, "mx.example", "mx.example", &[bad, good]), Some(1));
    }

    fn dane_enabled(ctx: &SslContextRef) -> bool {
        let ssl = Ssl::new(ctx).unwrap();
        // SAFETY: a live SSL and a NUL-terminated name.
        unsafe { SSL_dane_enable(ssl.as_ptr(), c"mx.example".as_ptr()) > 0 }
    }

    /// The application's context is lent, not ours: DANE is armed on a
    /// connection made from it without enabling DANE on it, and what the
    /// handshake would have read from it comes along.
    #[test]
    fn the_application_context_is_left_alone() {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut b = X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        let mut app = SslContext::builder(SslMethod::tls_client()).unwrap();
        app.set_certificate(&cert).unwrap();
        app.set_private_key(&key).unwrap();
        app.add_extra_chain_cert(cert.clone()).unwrap();
        app.set_cipher_list("AES128-SHA").unwrap();
        app.set_ciphersuites("TLS_AES_128_GCM_SHA256").unwrap();
        app.set_security_level(1);
        let app = app.build();
        let mut ssl = Ssl::new(&app).unwrap();
        assert!(use_dane_context(&mut ssl, &app));
        let tlsa = Tlsa { usage: 3, selector: 1, mtype: 1, data: vec![0xAB; 32] };
        assert_eq!(arm(&mut ssl, "mx.example", "mx.example", &[tlsa]), Some(1));
        assert!(!dane_enabled(&app), "DANE enabled on the application's context");
        assert_eq!(ssl.certificate().map(|c| c.to_der().unwrap()), Some(cert.to_der().unwrap()));
        assert!(ssl.private_key().is_some_and(|k| k.public_eq(&key)));
        assert_eq!(ssl.security_level(), 1);
        // SAFETY: a live SSL; the stack is read while it lives.
        let (ciphers, chain) = unsafe {
            let c = SSL_get_ciphers(ssl.as_ptr());
            let mut chain: *mut openssl_sys::stack_st_X509 = std::ptr::null_mut();
            openssl_sys::SSL_ctrl(ssl.as_ptr(), SSL_CTRL_GET_CHAIN_CERTS, 0, (&raw mut chain).cast());
            (openssl_sys::OPENSSL_sk_num(c.cast()), openssl_sys::OPENSSL_sk_num(chain.cast()))
        };
        assert_eq!((ciphers, chain), (2, 1), "cipher lists and chain carried over");
    }
}
