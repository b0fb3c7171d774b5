//! The message that carries a report by mail (RFC 8460 §5.3): a pure
//! function of the report's facts, so that every header can be tested.
//!
//! Every text that goes into a header has been checked before it gets
//! here ([`Facts::check`], the record parser for the recipient): ASCII
//! without spaces or controls, so nothing can end a header early or add
//! one, and no encoding is needed.

use super::civil;

/// What a report is about, from its document and the submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub policy_domain: String,
    /// The domain of the submitter's mailbox (RFC 8460 §5.3 Submitter).
    pub submitter: String,
    pub report_id: String,
    /// The report's date-range, as Unix times.
    pub begin: i64,
    pub end: i64,
}

/// The longest report-id we put in a Subject: with two domain names of
/// 253 bytes, the field stays under RFC 5322's 998-byte line.
pub const MAX_REPORT_ID: usize = 200;

impl Facts {
    /// Whether every text can go into a header as is.
    pub fn check(&self) -> Result<(), String> {
        let domain = super::record::host_name;
        if !domain(&self.policy_domain) {
            return Err("policy domain is not a host name".into());
        }
        if !domain(&self.submitter) {
            return Err("submitter domain is not a host name".into());
        }
        let id_ok = !self.report_id.is_empty()
            && self.report_id.len() <= MAX_REPORT_ID
            && self.report_id.bytes().all(|c| c.is_ascii_graphic() && !b"<>\"\\".contains(&c));
        if !id_ok {
            return Err("report-id is empty, too long, or not printable ASCII without <>\"\\".into());
        }
        Ok(())
    }

    /// RFC 8460 §5.1: `sender!policy-domain!begin!end!unique-id.json.gz`.
    /// The unique id is the report-id's digest, in hex, so the same
    /// report sent again has the same name (receivers can drop repeats).
    pub fn filename(&self) -> String {
        let digest = openssl::sha::sha256(self.report_id.as_bytes());
        let unique: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}!{}!{}!{}!{unique}.json.gz", self.submitter, self.policy_domain, self.begin, self.end)
    }
}

/// RFC 5322 date, in UTC with English names whatever the locale.
pub fn rfc5322_date(t: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, m, d, hh, mm, ss, wd) = civil(t);
    let (wd, m) = (DAYS[wd.clamp(0, 6) as usize], MONTHS[(m - 1).clamp(0, 11) as usize]);
    format!("{wd}, {d:02} {m} {y:04} {hh:02}:{mm:02}:{ss:02} +0000")
}

/// Base64 in lines of 76 characters (RFC 2045 §6.8), each ending in CRLF.
fn base64_lines(data: &[u8]) -> String {
    // 57 bytes make 76 characters.
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 28 + 4);
    for chunk in data.chunks(57) {
        out.push_str(&openssl::base64::encode_block(chunk));
        out.push_str("\r\n");
    }
    out
}

/// The whole message, CRLF line ends, ready for DATA: `from` is the
/// submitter's mailbox, `to` the rua mailbox, `gz` the gzip'd report,
/// `date` the Unix time it is sent at, and `token` a unique string of
/// letters and digits for the Message-ID and the MIME boundary.
pub fn compose(facts: &Facts, from: &str, to: &str, gz: &[u8], date: i64, token: &str) -> Vec<u8> {
    let Facts { policy_domain, submitter, report_id, .. } = facts;
    // Base64 never has '_' or '=' before its end, so no line of the
    // attachment can start like this boundary.
    let boundary = format!("=_tlsrpt_{token}");
    let subject = format!("Report Domain: {policy_domain} Submitter: {submitter} Report-ID: <{report_id}>");
    // Folded at the RFC's FWS when long (RFC 5322 §2.1.1: 78 advised).
    let subject = if subject.len() + "Subject: ".len() > 78 {
        subject.replace(" Submitter:", "\r\n Submitter:").replace(" Report-ID:", "\r\n Report-ID:")
    } else {
        subject
    };
    let (begin, end) = (super::rfc3339(facts.begin), super::rfc3339(facts.end));
    let mut m = String::new();
    let mut h = |name: &str, value: &str| {
        m.push_str(name);
        m.push_str(": ");
        m.push_str(value);
        m.push_str("\r\n");
    };
    h("From", from);
    h("To", to);
    h("Subject", &subject);
    h("Date", &rfc5322_date(date));
    h("Message-ID", &format!("<{token}.tlsrpt@{submitter}>"));
    h("TLS-Report-Domain", policy_domain);
    h("TLS-Report-Submitter", submitter);
    h("Auto-Submitted", "auto-generated");
    // RFC 8689 §5: a report about TLS failures must get through where TLS
    // fails, or it could never report them.
    h("TLS-Required", "No");
    h("MIME-Version", "1.0");
    h("Content-Type", &format!("multipart/report; report-type=\"tlsrpt\";\r\n boundary=\"{boundary}\""));
    m.push_str("\r\nThis is a multipart message in MIME format.\r\n\r\n");
    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str("Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
    m.push_str(&format!(
        "This is an aggregate TLS report (RFC 8460) from {submitter}\r\n\
         for {policy_domain}, covering {begin} to {end}.\r\n\
         The report is attached as gzip-compressed JSON.\r\n\r\n"
    ));
    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str("Content-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n");
    m.push_str(&format!("Content-Disposition: attachment;\r\n filename=\"{}\"\r\n\r\n", facts.filename()));
    m.push_str(&base64_lines(gz));
    m.push_str(&format!("\r\n--{boundary}--\r\n"));
    m.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            policy_domain: "company-y.example".into(),
            submitter: "mail.sender.example".into(),
            report_id: "2026-12-01T00:00:00Z_company-y.example".into(),
            begin: 1_796_083_200,
            end: 1_796_169_600,
        }
    }

    /// The header section as (name, unfolded value) pairs, and the body.
    fn split(msg: &[u8]) -> (Vec<(String, String)>, String) {
        let text = std::str::from_utf8(msg).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let unfolded = head.replace("\r\n ", " ");
        let fields = unfolded
            .split("\r\n")
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        (fields, body.to_owned())
    }

    #[test]
    fn headers_are_rfc_8460s() {
        let gz = b"\x1f\x8b not really gzip, but bytes".to_vec();
        let msg =
            compose(&facts(), "tlsrpt@mail.sender.example", "reports@company-y.example", &gz, 0, "t0k3n");
        let (fields, body) = split(&msg);
        let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("From"), Some("tlsrpt@mail.sender.example"));
        assert_eq!(get("To"), Some("reports@company-y.example"));
        assert_eq!(
            get("Subject"),
            Some(
                "Report Domain: company-y.example Submitter: mail.sender.example \
                 Report-ID: <2026-12-01T00:00:00Z_company-y.example>"
            )
        );
        assert_eq!(get("Date"), Some("Thu, 01 Jan 1970 00:00:00 +0000"));
        assert_eq!(get("Message-ID"), Some("<t0k3n.tlsrpt@mail.sender.example>"));
        assert_eq!(get("TLS-Report-Domain"), Some("company-y.example"));
        assert_eq!(get("TLS-Report-Submitter"), Some("mail.sender.example"));
        assert_eq!(get("MIME-Version"), Some("1.0"));
        assert_eq!(
            get("Content-Type"),
            Some("multipart/report; report-type=\"tlsrpt\"; boundary=\"=_tlsrpt_t0k3n\"")
        );
        let parts: Vec<&str> = body.split("--=_tlsrpt_t0k3n").collect();
        assert_eq!(parts.len(), 4, "preamble, two parts, the end");
        assert!(parts[1].contains("Content-Type: text/plain"));
        assert!(parts[1].contains("2026-12-01T00:00:00Z to 2026-12-02T00:00:00Z"));
        let att = parts[2];
        assert!(att.contains("\r\nContent-Type: application/tlsrpt+gzip\r\n"));
        let name = "mail.sender.example!company-y.example!1796083200!1796169600!";
        assert!(att.contains(&format!("Content-Disposition: attachment;\r\n filename=\"{name}")));
        let b64: String = att.split("\r\n\r\n").nth(1).unwrap().split_whitespace().collect();
        assert_eq!(openssl::base64::decode_block(&b64).unwrap(), gz);
        assert_eq!(parts[3], "--\r\n");
    }

    #[test]
    fn lines_are_crlf_and_short() {
        let gz: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let long = Facts { report_id: "x".repeat(MAX_REPORT_ID), ..facts() };
        let msg = compose(&long, "a@b.example", "c@d.example", &gz, 1_800_000_000, "abc");
        let text = std::str::from_utf8(&msg).unwrap();
        assert!(text.ends_with("\r\n"));
        for line in text.split_inclusive('\n') {
            assert!(line.ends_with("\r\n") && !line[..line.len() - 2].contains(['\r', '\n']), "{line:?}");
            assert!(line.len() <= 1000, "{} bytes", line.len());
        }
        // Base64 lines are 76 characters; the long subject is folded.
        assert!(text.lines().any(|l| l.len() == 76));
        assert!(text.contains("\r\n Report-ID: <xxx"));
    }

    #[test]
    fn filename_is_stable_per_report() {
        let f = facts().filename();
        assert!(f.starts_with("mail.sender.example!company-y.example!1796083200!1796169600!"));
        assert!(f.ends_with(".json.gz"));
        let unique = f.rsplit('!').next().unwrap().trim_end_matches(".json.gz");
        assert!(unique.len() == 16 && unique.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(f, facts().filename());
        assert_ne!(f, Facts { report_id: "other".into(), ..facts() }.filename());
    }

    #[test]
    fn header_text_is_checked() {
        assert!(facts().check().is_ok());
        for bad in [
            Facts { report_id: "a\r\nBcc: x@y".into(), ..facts() },
            Facts { report_id: "a b".into(), ..facts() },
            Facts { report_id: "<a>".into(), ..facts() },
            Facts { report_id: String::new(), ..facts() },
            Facts { report_id: "x".repeat(MAX_REPORT_ID + 1), ..facts() },
            Facts { policy_domain: "a..b".into(), ..facts() },
            Facts { submitter: "a b".into(), ..facts() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_in_english_utc() {
        assert_eq!(rfc5322_date(1_798_761_600), "Fri, 01 Jan 2027 00:00:00 +0000");
        assert_eq!(rfc5322_date(951_825_599), "Tue, 29 Feb 2000 11:59:59 +0000");
    }
}
