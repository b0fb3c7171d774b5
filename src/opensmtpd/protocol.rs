//! Parsing the lines smtpd sends a filter (smtpd-filters(7), protocol
//! 0.4 to 0.7). Every error carries the message libopensmtpd prints before
//! exiting, so a filter dies the same way on bad input.

use super::phase::Phase;

/// A line from smtpd.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `config|key|value`; `config|ready` has no value.
    Config {
        key: &'a [u8],
        value: Option<&'a [u8]>,
    },
    Event(Event<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Filter,
    Report,
}

/// `filter|…` or `report|…`, split into its fixed fields.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    pub kind: Kind,
    pub version: (u32, u32),
    /// Seconds and nanoseconds (smtpd sends microseconds).
    pub time: (i64, i64),
    pub incoming: bool,
    pub phase: Phase,
    pub reqid: u64,
    /// Filter requests only.
    pub token: u64,
    /// The rest of the line: it may contain `|`.
    pub params: &'a [u8],
}

/// Why a line was refused: libopensmtpd's message (it prints
/// `<message>: <line>` and exits 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

fn split(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b'|', s) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

fn digits(s: &[u8]) -> (u64, usize, bool) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut v: u64 = 0;
    let mut overflow = false;
    for &c in &s[..n] {
        match v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as u64)) {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    (v, n, overflow)
}

/// Each byte's value as a hex digit, 0xff for the others.
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Up to 16 hex digits, nothing else (two per line, so a table lookup a
/// digit rather than `from_str_radix`).
pub fn hex_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v = 0u64;
    let mut bad = 0u8;
    for &c in s {
        let d = HEX_VALUE[c as usize];
        bad |= d;
        v = v << 4 | (d & 0xf) as u64;
    }
    // Any 0xff entry sets the high bits no digit has.
    (bad & 0xf0 == 0).then_some(v)
}

/// `sec.frac`, frac of up to 9 digits scaled to nanoseconds (libopensmtpd
/// 0.7 multiplied smtpd's microseconds by 20).
fn timestamp(s: &[u8]) -> Result<(i64, i64), ParseError> {
    const E: ParseError = ParseError("Invalid line received: invalid timestamp");
    let dot = s.iter().position(|&c| c == b'.').ok_or(E)?;
    let (sec, n, over) = digits(&s[..dot]);
    if n == 0 || n != dot || over || sec > i64::MAX as u64 {
        return Err(E);
    }
    let frac = &s[dot + 1..];
    let (f, n, _) = digits(frac);
    if n == 0 || n != frac.len() || n > 9 {
        return Err(E);
    }
    Ok((sec as i64, (f * 10u64.pow(9 - n as u32)) as i64))
}

/// The one configuration value libopensmtpd checks (after the filter's
/// conf callback has seen it): the session timeout, 0 to INT_MAX seconds.
/// The value is not used; the message keeps 0.7's spelling.
pub fn check_config(key: &[u8], value: &[u8]) -> Result<(), ParseError> {
    if key != b"smtp-session-timeout" {
        return Ok(());
    }
    let ok = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        .is_some_and(|v| (0..=i32::MAX as i64).contains(&v));
    if ok {
        Ok(())
    } else {
        Err(ParseError("Invalid line received: invalid smtp-sesion-timeout"))
    }
}

pub fn parse(line: &[u8]) -> Result<Line<'_>, ParseError> {
    let (kind, rest) = split(line);
    let Some(rest) = rest else { return Err(ParseError("Invalid line received: missing version")) };
    let kind = match kind {
        b"config" => {
            let (key, value) = split(rest);
            if key == b"ready" && value.is_none() {
                return Ok(Line::Config { key, value: None });
            }
            let Some(value) = value else { return Err(ParseError("Invalid line received: missing key")) };
            return Ok(Line::Config { key, value: Some(value) });
        }
        b"filter" => Kind::Filter,
        b"report" => Kind::Report,
        _ => return Err(ParseError("Invalid line received: unknown message type")),
    };
    // Version `M.m`.
    let (major, n, _) = digits(rest);
    if n == 0 || rest.get(n) != Some(&b'.') {
        return Err(ParseError("Invalid protocol received"));
    }
    let rest = &rest[n + 1..];
    // libopensmtpd's order of checks: nothing after the minor is a missing
    // time, a minor that is not a number an invalid protocol.
    let (minor, m, _) = digits(rest);
    if rest.len() == m {
        return Err(ParseError("Invalid line received: missing time"));
    }
    if m == 0 || rest[m] != b'|' {
        return Err(ParseError("Invalid protocol received"));
    }
    if major != 0 {
        return Err(ParseError("Unsupported protocol received"));
    }
    let (ts, rest) = split(&rest[m + 1..]);
    let time = timestamp(ts)?;
    let rest = rest.ok_or(ParseError("Invalid line received: missing direction"))?;
    let (dir, rest) = split(rest);
    let incoming = match dir {
        b"smtp-in" => true,
        b"smtp-out" => false,
        _ => return Err(ParseError("Invalid line: invalid direction")),
    };
    let rest = rest.ok_or(ParseError("Invalid line received: missing phase"))?;
    let (phase, rest) = split(rest);
    let phase = Phase::from_name(phase).ok_or(ParseError("Invalid line received: invalid phase"))?;
    let rest = rest.ok_or(ParseError("Invalid line received: missing reqid"))?;
    let (reqid, rest) = split(rest);
    let reqid = hex_u64(reqid).ok_or(ParseError("Invalid line received: invalid reqid"))?;
    let (token, params) = match kind {
        Kind::Filter => {
            let rest = rest.ok_or(ParseError("Invalid line received: missing token"))?;
            let (token, params) = split(rest);
            let token = hex_u64(token).ok_or(ParseError("Invalid line received: invalid token"))?;
            // A filter request always ends in `|params`, empty or not.
            (token, params.ok_or(ParseError("Invalid line received: invalid token"))?)
        }
        Kind::Report => (0, rest.unwrap_or_default()),
    };
    if kind == Kind::Filter && !phase.is_filter() || kind == Kind::Report && phase.is_filter() {
        return Err(ParseError("Invalid line received: received unregistered line"));
    }
    if kind == Kind::Filter && !incoming {
        return Err(ParseError("Invalid line received: received unregistered line"));
    }
    Ok(Line::Event(Event {
        kind,
        version: (major as u32, minor as u32),
        time,
        incoming,
        phase,
        reqid,
        token,
        params,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids() {
        assert_eq!(hex_u64(b"0123456789abcdef"), Some(0x0123_4567_89ab_cdef));
        assert_eq!(hex_u64(b"FFFFFFFFFFFFFFFF"), Some(u64::MAX));
        assert_eq!(hex_u64(b"a"), Some(10));
        for bad in [&b""[..], b"0123456789abcdef0", b"12g4", b"-1", b" 1", b"0x1", b"1|"] {
            assert_eq!(hex_u64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn config_lines() {
        assert_eq!(parse(b"config|ready").unwrap(), Line::Config { key: b"ready", value: None });
        assert_eq!(
            parse(b"config|smtpd-version|6.8.0p2").unwrap(),
            Line::Config { key: b"smtpd-version", value: Some(b"6.8.0p2") }
        );
        assert_eq!(parse(b"config|subsystem"), Err(ParseError("Invalid line received: missing key")));
        assert!(check_config(b"smtp-session-timeout", b"300").is_ok());
        assert!(check_config(b"smtp-session-timeout", b"-1").is_err());
        assert!(check_config(b"smtp-session-timeout", b"2147483648").is_err());
        assert!(check_config(b"admd", b"x").is_ok());
    }

    #[test]
    fn filter_and_report_lines() {
        let l =
            parse(b"filter|0.6|1576146008.006099|smtp-in|mail-from|7641df9771b4ed00|1ef1c203cc576e5d|a|b@c")
                .unwrap();
        let Line::Event(e) = l else { panic!() };
        assert_eq!((e.kind, e.version, e.incoming, e.phase), (Kind::Filter, (0, 6), true, Phase::MailFrom));
        assert_eq!((e.reqid, e.token, e.params), (0x7641df9771b4ed00, 0x1ef1c203cc576e5d, &b"a|b@c"[..]));
        assert_eq!(e.time, (1576146008, 6_099_000));
        let Line::Event(e) = parse(b"report|0.7|1.5|smtp-out|link-disconnect|00000000000000aa").unwrap()
        else {
            panic!()
        };
        assert_eq!((e.kind, e.incoming, e.reqid, e.params), (Kind::Report, false, 0xaa, &b""[..]));
        let Line::Event(e) = parse(b"filter|0.6|1.000001|smtp-in|data|01|02|").unwrap() else { panic!() };
        assert_eq!((e.token, e.params, e.time.1), (2, &b""[..], 1000));
    }

    #[test]
    fn refusals_carry_libopensmtpd_messages() {
        let err = |l: &[u8]| parse(l).unwrap_err().0;
        assert_eq!(err(b"hello"), "Invalid line received: missing version");
        assert_eq!(err(b"bogus|0.6"), "Invalid line received: unknown message type");
        assert_eq!(err(b"report|1.0|1.0|smtp-in|timeout|01"), "Unsupported protocol received");
        assert_eq!(err(b"report|0.|1.0|smtp-in|timeout|01"), "Invalid protocol received");
        assert_eq!(err(b"report|0.6"), "Invalid line received: missing time");
        assert_eq!(err(b"report|0.6|1|smtp-in|timeout|01"), "Invalid line received: invalid timestamp");
        assert_eq!(err(b"report|0.6|1.0|smtp-x|timeout|01"), "Invalid line: invalid direction");
        assert_eq!(err(b"report|0.6|1.0|smtp-in|tx-reset|01"), "Invalid line received: invalid phase");
        assert_eq!(err(b"filter|0.6|1.0|smtp-in|data|01|02"), "Invalid line received: invalid token");
        assert_eq!(
            err(b"filter|0.6|1.0|smtp-out|data|01|02|"),
            "Invalid line received: received unregistered line"
        );
        assert_eq!(err(b"report|0.6|-1.0|smtp-in|timeout|01"), "Invalid line received: invalid timestamp");
    }
}
