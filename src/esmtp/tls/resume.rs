//! TLS session resumption: a process-wide cache of client sessions, so
//! that a program sending one message per session (collectd, syslog-ng,
//! cron mail) pays a full handshake once per server, not every time.
//!
//! Only the library's own `SSL_CTX` takes part (an application that gives
//! its own keeps control of its cache), and only sessions without a TLS
//! policy: a DANE or MTA-STS session always verifies afresh. A session is
//! cached once the connection passed every check libESMTP makes (the
//! chain, the cipher, the name, and the application's say through the
//! events), and is found again only under the same key: server name, port,
//! SNI, and the trust in force (the context, which is built anew when the
//! user's certificate files change). A resumed handshake restores the
//! peer's certificate and its verification result, and the same checks
//! and events run on them, so a resumed session is accepted exactly when a
//! full one would be.
//!
//! TLS 1.3 tickets are used once (RFC 8446 §C.4): taken from the cache,
//! replaced by the tickets the resumed connection brings; a few are kept
//! per server, for connections opened at once. TLS 1.2 session ids stay
//! until they expire. Lifetimes are the server's; the cache holds at most
//! `MAX_ENTRIES` servers, the one used least recently going first.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common::sync::{Guard, Lock};

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::ex_data::Index;
use openssl::ssl::{Ssl, SslContextBuilder, SslRef, SslSession, SslSessionCacheMode, SslVersion};

// Part of libssl's API since 1.1.1; not bound by openssl-sys.
extern "C" {
    fn SSL_SESSION_is_resumable(s: *const openssl_sys::SSL_SESSION) -> std::ffi::c_int;
}

/// Servers whose sessions the cache keeps.
pub const MAX_ENTRIES: usize = 256;

/// What a cached session may be used for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// The name the certificate is checked against (SNI when a name).
    pub host: String,
    pub port: u16,
    /// The context's identity: its trust store and client certificate.
    pub trust: u64,
}

/// TLS 1.3 tickets kept per server: one for each of this many connections
/// opened at once (a server sends two after each handshake by default).
const TICKETS_PER_SERVER: usize = 4;

struct Entry {
    /// Newest last. TLS 1.2: the one session id.
    sessions: Vec<SslSession>,
    /// Last insertion, for eviction.
    seq: u64,
}

struct Cache {
    map: HashMap<Key, Entry, BuildHasherDefault<DefaultHasher>>,
    seq: u64,
}

fn lock() -> Guard<'static, Cache> {
    // Server names the application chose: no need for a keyed hash.
    static CACHE: Lock<Cache> =
        Lock::new(Cache { map: HashMap::with_hasher(BuildHasherDefault::new()), seq: 0 });
    CACHE.lock()
}

/// Whether the session can still be offered, by the server's lifetime.
// `time()` and `timeout()` are `long` on some platforms, `i64` on others.
#[allow(clippy::unnecessary_cast)]
fn alive(s: &SslSession) -> bool {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    s.time() as i64 + s.timeout() as i64 > now
}

fn tls13(s: &SslSession) -> bool {
    s.protocol_version() == SslVersion::TLS1_3
}

/// The session to offer for `key`, if one is cached and alive. A TLS 1.3
/// ticket leaves the cache (it is good for one connection).
pub fn take(key: &Key) -> Option<SslSession> {
    let mut c = lock();
    let e = c.map.get_mut(key)?;
    e.sessions.retain(alive);
    let s = match e.sessions.last() {
        Some(s) if tls13(s) => e.sessions.pop(),
        Some(s) => Some(s.clone()),
        None => None,
    };
    if e.sessions.is_empty() {
        c.map.remove(key);
    }
    s
}

fn store(key: Key, session: SslSession) {
    // SAFETY: a live SSL_SESSION, only read.
    let resumable = unsafe { SSL_SESSION_is_resumable(session.as_ptr()) } == 1;
    if !resumable || !alive(&session) {
        return;
    }
    let mut c = lock();
    c.seq += 1;
    let seq = c.seq;
    let e = c.map.entry(key).or_insert_with(|| Entry { sessions: Vec::new(), seq });
    e.seq = seq;
    if !tls13(&session) {
        e.sessions.clear();
    }
    e.sessions.retain(tls13);
    e.sessions.push(session);
    if e.sessions.len() > TICKETS_PER_SERVER {
        e.sessions.remove(0);
    }
    if c.map.len() > MAX_ENTRIES {
        let oldest = c.map.iter().min_by_key(|(_, e)| e.seq).map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            c.map.remove(&k);
        }
    }
}

/// Forgets every session of `key` (the connection was refused).
pub fn forget(key: &Key) {
    lock().map.remove(key);
}

/// How many servers have a session cached (for tests).
pub fn len() -> usize {
    lock().map.len()
}

/// A connection's part: its key, and whether it passed the checks (until
/// then a ticket that arrives is not kept).
pub struct Pending {
    key: Key,
    accepted: AtomicBool,
}

impl Pending {
    pub fn key(&self) -> &Key {
        &self.key
    }
}

fn index() -> Index<Ssl, Arc<Pending>> {
    static INDEX: Lock<Option<Index<Ssl, Arc<Pending>>>> = Lock::new(None);
    INDEX.get_or_init(|| Ssl::new_ex_index().expect("an SSL ex_data index"))
}

/// Sets up the library's own context for resumption: a client cache whose
/// store is ours, fed by the new-session callback. The callback is a plain
/// function set through OpenSSL's own call: rust-openssl's closure setter
/// keeps its ex_data indices in a std mutex, whose waits ThreadSanitizer
/// cannot see (capi-tests/threads), and a fixed function needs no index.
pub fn enable(b: &mut SslContextBuilder) {
    b.set_session_cache_mode(SslSessionCacheMode::CLIENT | SslSessionCacheMode::NO_INTERNAL_STORE);
    // SAFETY: a live SSL_CTX being built; the callback has the signature
    // OpenSSL declares and lives for the whole program.
    unsafe { openssl_sys::SSL_CTX_sess_set_new_cb(b.as_ptr(), Some(new_session)) };
}

/// OpenSSL's new-session callback: keeps the session of a connection the
/// checks accepted. Returns 1: the reference it was given is ours.
extern "C" fn new_session(
    ssl: *mut openssl_sys::SSL,
    session: *mut openssl_sys::SSL_SESSION,
) -> std::ffi::c_int {
    // SAFETY: OpenSSL hands over one reference to a live SSL_SESSION, which
    // `SslSession` owns and releases; the SSL is live for the call.
    let (ssl, session) = unsafe { (SslRef::from_ptr(ssl), SslSession::from_ptr(session)) };
    // No panic may unwind into OpenSSL; the session is released either way.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(p) = ssl.ex_data(index()) {
            if p.accepted.load(Ordering::Acquire) {
                store(p.key.clone(), session);
            }
        }
    }));
    1
}

/// Before the handshake: offers a cached session for `key`, and marks the
/// connection so that its own sessions are kept once it is accepted.
pub fn prepare(ssl: &mut SslRef, key: Key) -> Arc<Pending> {
    if let Some(s) = take(&key) {
        // SAFETY: rust-openssl asks that the session come from this SSL's
        // context; the key includes the context's identity (`Key::trust`),
        // so a session is only ever offered to the context that made it.
        let _ = unsafe { ssl.set_session(&s) };
    }
    let p = Arc::new(Pending { key, accepted: AtomicBool::new(false) });
    ssl.set_ex_data(index(), p.clone());
    p
}

/// After the checks: the connection is trusted, so its session (TLS 1.2
/// now; TLS 1.3 tickets as they arrive) may serve the next one with the
/// same key. A refused connection's key is forgotten.
pub fn settle(ssl: &SslRef, pending: &Pending, accepted: bool) {
    if !accepted {
        forget(&pending.key);
        return;
    }
    pending.accepted.store(true, Ordering::Release);
    if let Some(s) = ssl.session() {
        if !tls13(&s.to_owned()) {
            store(pending.key.clone(), s.to_owned());
        }
    }
}
