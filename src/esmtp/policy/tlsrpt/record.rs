//! The `_smtp._tls` TXT record (RFC 8460 §3): where a policy domain wants
//! its TLS reports sent.
//!
//! The record is network input chosen by whoever runs the domain, and each
//! address in it makes us send a report: the parser bounds the record's
//! length, the number of addresses used and each address's length, and
//! keeps only what can go into an SMTP envelope or an HTTP request line
//! without escaping (no spaces, controls, brackets or non-ASCII).

/// The longest record read, in bytes after joining its strings. RFC 8460
/// sets none; real records are well under 512 bytes, and a longer one is
/// rejected rather than cut (a cut could leave a different address).
pub const MAX_RECORD_LEN: usize = 2048;
/// Addresses a report goes to at most: the first ones of the record.
/// Each is a report sent, so a record cannot make one submission fan out.
pub const MAX_URIS: usize = 8;
/// The longest URI used (before percent-decoding).
pub const MAX_URI_LEN: usize = 512;
/// RFC 5321 §4.5.3.1: 64 octets of local part, 255 of domain.
const MAX_LOCAL_LEN: usize = 64;
const MAX_DOMAIN_LEN: usize = 253;

/// RFC 8460 §3: the version field, first in the record.
const VERSION: &[u8] = b"v=TLSRPTv1";

/// An address a report goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rua {
    /// `mailto:`: one mailbox, `local@domain`, ASCII, percent-decoded.
    Mailto(String),
    Https(HttpsUri),
}

/// An `https:` URI split for the request: DNS host name, port, and the
/// path with its query, as written (the fragment is not sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsUri {
    pub host: String,
    pub port: u16,
    pub target: String,
}

/// A URI of the record, as written, with what it resolved to: `Err` says
/// why it is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub uri: String,
    pub rua: Result<Rua, String>,
}

/// Why a domain has no usable record: it then does not take reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRecord {
    /// No TXT record starts with `v=TLSRPTv1`.
    Missing,
    /// More than one does (RFC 8460 §3: then none applies).
    Several(usize),
    /// Longer than [`MAX_RECORD_LEN`].
    TooLong(usize),
    /// Not the RFC's syntax.
    Malformed(String),
    /// Well formed, but no address is `mailto:` or `https:` we can use.
    NoUsableUri,
}

impl std::fmt::Display for NoRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoRecord::Missing => f.write_str("no v=TLSRPTv1 record"),
            NoRecord::Several(n) => write!(f, "{n} v=TLSRPTv1 records, not one"),
            NoRecord::TooLong(n) => write!(f, "record of {n} bytes, over {MAX_RECORD_LEN}"),
            NoRecord::Malformed(why) => write!(f, "malformed record: {why}"),
            NoRecord::NoUsableUri => f.write_str("no usable mailto: or https: address in rua"),
        }
    }
}

/// The one TLSRPT record among a name's TXT records (each given as its
/// strings joined), parsed. Its entries are every URI of `rua` in order;
/// at least one is usable, and at most [`MAX_URIS`] are.
pub fn parse(txts: &[Vec<u8>]) -> Result<Vec<Entry>, NoRecord> {
    let ours: Vec<&Vec<u8>> = txts.iter().filter(|t| is_tlsrpt(t)).collect();
    let rec = match ours.as_slice() {
        [] => return Err(NoRecord::Missing),
        [one] => *one,
        many => return Err(NoRecord::Several(many.len())),
    };
    if rec.len() > MAX_RECORD_LEN {
        return Err(NoRecord::TooLong(rec.len()));
    }
    let text = std::str::from_utf8(rec).map_err(|_| malformed("not ASCII"))?;
    if !text.is_ascii() {
        return Err(malformed("not ASCII"));
    }
    let mut rua = None;
    for field in fields(text)?.into_iter().skip(1) {
        let (name, value) = field.split_once('=').ok_or_else(|| malformed("field without '='"))?;
        if !ext_name(name) {
            return Err(malformed("bad field name"));
        }
        if name == "rua" {
            if rua.is_some() {
                return Err(malformed("two rua fields"));
            }
            rua = Some(value);
        } else if value.is_empty() || !value.bytes().all(|c| matches!(c, 0x21..=0x3a | 0x3c | 0x3e..=0x7e)) {
            // RFC 8460 §3 tlsrpt-ext-value; unknown fields are ignored
            // only when well formed.
            return Err(malformed("bad field value"));
        }
    }
    let rua = rua.ok_or_else(|| malformed("no rua field"))?;
    let mut entries = Vec::new();
    let mut usable = 0;
    for uri in rua.split(',') {
        let uri = uri.trim_matches([' ', '\t']);
        if uri.is_empty() {
            return Err(malformed("empty URI in rua"));
        }
        let mut parsed = uri_of(uri);
        if parsed.is_ok() {
            if usable == MAX_URIS {
                parsed = Err(format!("beyond the first {MAX_URIS} usable addresses"));
            } else {
                usable += 1;
            }
        }
        entries.push(Entry { uri: uri.to_owned(), rua: parsed });
    }
    if usable == 0 {
        return Err(NoRecord::NoUsableUri);
    }
    Ok(entries)
}

fn malformed(why: &str) -> NoRecord {
    NoRecord::Malformed(why.to_owned())
}

/// RFC 8460 §3: records that do not begin with the version are discarded.
/// The version ends at the first delimiter, so `v=TLSRPTv10` is not ours.
fn is_tlsrpt(txt: &[u8]) -> bool {
    txt.strip_prefix(VERSION).is_some_and(|rest| rest.is_empty() || rest.trim_ascii_start().starts_with(b";"))
}

/// The record's fields, split at `*WSP ";" *WSP`; one trailing
/// delimiter is allowed, an empty field elsewhere is not.
fn fields(text: &str) -> Result<Vec<&str>, NoRecord> {
    let mut out: Vec<&str> = text.split(';').map(|f| f.trim_matches([' ', '\t'])).collect();
    if out.len() > 1 && out.last() == Some(&"") {
        out.pop();
    }
    if out.iter().any(|f| f.is_empty()) {
        return Err(malformed("empty field"));
    }
    Ok(out)
}

/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
fn ext_name(n: &str) -> bool {
    n.len() <= 32
        && n.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

/// One URI of `rua`; `Err` with why it is not used.
fn uri_of(uri: &str) -> Result<Rua, String> {
    if uri.len() > MAX_URI_LEN {
        return Err(format!("URI longer than {MAX_URI_LEN} bytes"));
    }
    if !uri.bytes().all(|c| c.is_ascii_graphic()) {
        return Err("URI with spaces or control characters".into());
    }
    // RFC 8460 §3: a literal "!" must have been percent-encoded.
    if uri.contains('!') {
        return Err("URI with an unencoded '!'".into());
    }
    let (scheme, rest) = uri.split_once(':').ok_or("not a URI")?;
    if scheme.eq_ignore_ascii_case("mailto") {
        mailto(rest).map(Rua::Mailto)
    } else if scheme.eq_ignore_ascii_case("https") {
        https(rest).map(Rua::Https)
    } else {
        Err(format!("scheme {:?} is neither mailto nor https", super::super::short(scheme)))
    }
}

/// RFC 6068: `to` is percent-decoded, header fields after `?` dropped
/// (`?subject=` and the like are for people, not for reports). One
/// mailbox per URI; a list, or no mailbox, is not used.
fn mailto(rest: &str) -> Result<String, String> {
    let to = rest.split_once('?').map_or(rest, |(to, _)| to);
    let addr = percent_decode(to).ok_or("bad percent-encoding")?;
    if addr.contains(',') {
        return Err("several mailboxes in one mailto: URI".into());
    }
    mailbox(&addr)?;
    Ok(addr)
}

/// `%XX` escapes decoded; the result must be ASCII (a mailbox that needs
/// SMTPUTF8 is not one we can promise to deliver to).
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| s.is_ascii())
}

/// `local@domain` with an RFC 5322 dot-atom local part and a DNS domain:
/// what RCPT TO and a To: field take as is.
pub fn mailbox(addr: &str) -> Result<(), String> {
    let (local, domain) = addr.rsplit_once('@').ok_or("mailbox without '@'")?;
    let atext = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c);
    let local_ok = !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && local.split('.').all(|a| !a.is_empty() && a.bytes().all(atext));
    if !local_ok {
        return Err("local part is not a dot-atom".into());
    }
    if !host_name(domain) {
        return Err("mailbox domain is not a host name".into());
    }
    Ok(())
}

/// A DNS host name: letters, digits and hyphens in labels of 1 to 63,
/// not all digits at the top (which would be an IPv4 literal).
pub fn host_name(d: &str) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    let labels_ok = !d.is_empty()
        && d.len() <= MAX_DOMAIN_LEN
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        });
    labels_ok && !d.rsplit('.').next().unwrap_or("").bytes().all(|c| c.is_ascii_digit())
}

/// `//host[:port][/path][?query][#fragment]`: a DNS name, no user
/// information (credentials have no place in a public record), no IP
/// literal (its certificate could not be checked by name).
fn https(rest: &str) -> Result<HttpsUri, String> {
    let rest = rest.strip_prefix("//").ok_or("https: URI without an authority")?;
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    if authority.contains('@') {
        return Err("https: URI with user information".into());
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port = p.parse::<u16>().ok().filter(|&n| n != 0 && n.to_string() == p);
            (h, port.ok_or("bad port")?)
        }
        _ => (authority, 443),
    };
    if !host_name(host) {
        return Err("https: host is not a DNS name".into());
    }
    let target = match target {
        "" => "/".to_owned(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_owned(),
    };
    Ok(HttpsUri { host: host.trim_end_matches('.').to_ascii_lowercase(), port, target })
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
