//! The service extensions a server announces in its EHLO reply.

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Extensions {
    pub enhanced_status_codes: bool,
    pub pipelining: bool,
    pub dsn: bool,
    pub auth: bool,
    pub starttls: bool,
    pub size: bool,
    pub chunking: bool,
    pub binarymime: bool,
    pub eightbitmime: bool,
    pub deliverby: bool,
    pub etrn: bool,
    pub xusr: bool,
    pub xexch50: bool,
    /// The SIZE limit (0: none announced).
    pub size_limit: u64,
    /// DELIVERBY's minimum by-time in seconds (0: none).
    pub min_by_time: i64,
    /// AUTH mechanisms in the server's order, upper-cased, without repeats.
    pub auth_mechanisms: Vec<String>,
}

/// `strtol`-like: optional blanks, an optional sign, digits; 0 if none.
fn leading_number(s: &[u8]) -> i64 {
    let s = &s[s.iter().take_while(|c| c.is_ascii_whitespace()).count()..];
    let (neg, s) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &c in s.iter().take_while(|c| c.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add((c - b'0') as i64);
    }
    if neg {
        -n
    } else {
        n
    }
}

impl Extensions {
    /// Parses the continuation lines of an EHLO reply (the first line is
    /// the server's greeting, not a keyword).
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Extensions {
        let mut ext = Extensions::default();
        for line in lines {
            ext.add_line(line);
        }
        ext
    }

    fn add_line(&mut self, line: &[u8]) {
        let line = &line[line.iter().take_while(|&&c| c == b' ' || c == b'\t').count()..];
        let end = line.iter().position(|c| c.is_ascii_whitespace()).unwrap_or(line.len());
        let (keyword, params) = line.split_at(end);
        if keyword.is_empty() || keyword.len() > 31 {
            return;
        }
        let kw = keyword.to_ascii_uppercase();
        match kw.as_slice() {
            b"ENHANCEDSTATUSCODES" => self.enhanced_status_codes = true,
            b"PIPELINING" => self.pipelining = true,
            b"DSN" => self.dsn = true,
            b"AUTH" => {
                self.auth = true;
                self.add_mechanisms(params);
            }
            b"STARTTLS" => self.starttls = true,
            b"SIZE" => {
                self.size = true;
                self.size_limit = leading_number(params).max(0) as u64;
            }
            b"CHUNKING" => self.chunking = true,
            b"BINARYMIME" => self.binarymime = true,
            b"8BITMIME" => self.eightbitmime = true,
            b"DELIVERBY" => {
                self.deliverby = true;
                self.min_by_time = leading_number(params);
            }
            b"ETRN" => self.etrn = true,
            b"XUSR" => self.xusr = true,
            b"XEXCH50" => self.xexch50 = true,
            // Some servers still announce the pre-RFC `AUTH=MECH ...` form.
            k if k.starts_with(b"AUTH=") => {
                self.auth = true;
                self.add_mechanisms(&keyword[5..]);
                self.add_mechanisms(params);
            }
            _ => {}
        }
    }

    fn add_mechanisms(&mut self, list: &[u8]) {
        for m in list.split(|c| c.is_ascii_whitespace()).filter(|m| !m.is_empty()) {
            let name = String::from_utf8_lossy(m).to_ascii_uppercase();
            if !self.auth_mechanisms.contains(&name) {
                self.auth_mechanisms.push(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_parameters() {
        let lines: [&[u8]; 7] = [
            b"PIPELINING\r\n",
            b"size 1000000\r\n",
            b"AUTH PLAIN LOGIN\r\n",
            b"AUTH=LOGIN CRAM-MD5\r\n",
            b"DELIVERBY 240\r\n",
            b"8BITMIME\r\n",
            b"X-UNKNOWN foo\r\n",
        ];
        let e = Extensions::parse(lines);
        assert!(e.pipelining && e.size && e.auth && e.deliverby && e.eightbitmime);
        assert!(!e.dsn && !e.chunking);
        assert_eq!(e.size_limit, 1_000_000);
        assert_eq!(e.min_by_time, 240);
        assert_eq!(e.auth_mechanisms, ["PLAIN", "LOGIN", "CRAM-MD5"]);
    }
}
