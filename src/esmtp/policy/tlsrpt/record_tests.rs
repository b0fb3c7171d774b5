//! The `_smtp._tls` record parser: the RFC's examples, its syntax, and
//! the limits.

use super::*;

fn one(rec: &str) -> Result<Vec<Entry>, NoRecord> {
    parse(&[rec.as_bytes().to_vec()])
}

fn used(rec: &str) -> Vec<Rua> {
    one(rec).unwrap().into_iter().filter_map(|e| e.rua.ok()).collect()
}

#[test]
fn the_rfc_examples() {
    assert_eq!(
        used("v=TLSRPTv1;rua=mailto:reports@example.com"),
        [Rua::Mailto("reports@example.com".into())]
    );
    assert_eq!(
        used("v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt"),
        [Rua::Https(HttpsUri {
            host: "reporting.example.com".into(),
            port: 443,
            target: "/v1/tlsrpt".into()
        })]
    );
}

#[test]
fn only_one_record_counts() {
    let other = b"v=spf1 -all".to_vec();
    let a = b"v=TLSRPTv1; rua=mailto:a@x.example".to_vec();
    let b = b"v=TLSRPTv1; rua=mailto:b@x.example".to_vec();
    assert!(parse(&[other.clone(), a.clone()]).is_ok());
    assert_eq!(parse(&[a, b]), Err(NoRecord::Several(2)));
    assert_eq!(parse(&[other]), Err(NoRecord::Missing));
    assert_eq!(parse(&[]), Err(NoRecord::Missing));
    // A later version is not ours, nor is a prefix of a longer token.
    assert_eq!(one("v=TLSRPTv10; rua=mailto:a@x.example"), Err(NoRecord::Missing));
    assert!(one("v=TLSRPTv1 ;rua=mailto:a@x.example;").is_ok());
}

#[test]
fn syntax_errors_void_the_record() {
    for rec in [
        "v=TLSRPTv1",
        "v=TLSRPTv1;",
        "v=TLSRPTv1; ext=1",
        "v=TLSRPTv1;; rua=mailto:a@x.example",
        "v=TLSRPTv1; rua=mailto:a@x.example; rua=mailto:b@x.example",
        "v=TLSRPTv1; rua=mailto:a@x.example; junk",
        "v=TLSRPTv1; rua=mailto:a@x.example; _x=1",
        "v=TLSRPTv1; rua=mailto:a@x.example; x=a=b",
        "v=TLSRPTv1; rua=mailto:a@x.example,,mailto:b@x.example",
        "v=TLSRPTv1; rua=mailto:a@x.example; x=\u{e9}",
    ] {
        assert!(matches!(one(rec), Err(NoRecord::Malformed(_))), "{rec}");
    }
    // Unknown fields, well formed, are ignored wherever they are.
    assert!(one("v=TLSRPTv1; x-ext=1; rua=mailto:a@x.example; other.ext=v").is_ok());
}

#[test]
fn unusable_addresses_are_kept_with_why() {
    let e = one("v=TLSRPTv1; rua=ftp://x.example/r, mailto:a@x.example , https://1.2.3.4/r").unwrap();
    assert_eq!(e.len(), 3);
    assert!(e[0].rua.as_ref().unwrap_err().contains("neither mailto nor https"));
    assert_eq!(e[1].uri, "mailto:a@x.example");
    assert!(e[1].rua.is_ok());
    assert!(e[2].rua.as_ref().unwrap_err().contains("not a DNS name"));
    assert_eq!(one("v=TLSRPTv1; rua=ftp://x.example/r"), Err(NoRecord::NoUsableUri));
}

#[test]
fn mailto_per_rfc_6068() {
    let m = |u: &str| uri_of(u);
    assert_eq!(
        m("mailto:tls%2Dreports@x.example?subject=hi"),
        Ok(Rua::Mailto("tls-reports@x.example".into()))
    );
    assert_eq!(m("MAILTO:a.b+c@X.example"), Ok(Rua::Mailto("a.b+c@X.example".into())));
    for bad in [
        "mailto:",
        "mailto:?to=a@x.example",
        "mailto:a@x.example%2Cb@x.example",
        "mailto:a%0D%0ARCPT TO:<b@x>@x.example",
        "mailto:a%0d%0a@x.example",
        "mailto:a@x.example%",
        "mailto:a@x.example%zz",
        "mailto:%C3%A9@x.example",
        "mailto:a..b@x.example",
        "mailto:a@[127.0.0.1]",
        "mailto:a@1.2.3.4",
        "mailto:<a@x.example>",
        "mailto:a!b@x.example",
    ] {
        assert!(m(bad).is_err(), "{bad}");
    }
}

#[test]
fn https_uris() {
    let h = |u: &str| match uri_of(u) {
        Ok(Rua::Https(h)) => Ok((h.host, h.port, h.target)),
        other => Err(format!("{other:?}")),
    };
    assert_eq!(h("https://R.example:8443/a/b?c=d#frag"), Ok(("r.example".into(), 8443, "/a/b?c=d".into())));
    assert_eq!(h("https://r.example"), Ok(("r.example".into(), 443, "/".into())));
    assert_eq!(h("https://r.example?x"), Ok(("r.example".into(), 443, "/?x".into())));
    for bad in [
        "https:r.example/x",
        "https://u:p@r.example/x",
        "https://r.example:0/x",
        "https://r.example:65536/x",
        "https://r.example:+443/x",
        "https://r.example:/x",
        "https://[::1]/x",
        "https://-r.example/x",
        "https:///x",
    ] {
        assert!(h(bad).is_err(), "{bad}");
    }
}

#[test]
fn limits_are_enforced() {
    let long = format!("v=TLSRPTv1; rua=mailto:a@x.example; x={}", "y".repeat(MAX_RECORD_LEN));
    assert!(matches!(one(&long), Err(NoRecord::TooLong(_))));
    let at_limit = "v=TLSRPTv1; rua=mailto:a@x.example; x=".to_owned();
    let at_limit = format!("{at_limit}{}", "y".repeat(MAX_RECORD_LEN - at_limit.len()));
    assert!(one(&at_limit).is_ok());
    let uri = format!("https://r.example/{}", "p".repeat(MAX_URI_LEN));
    let e = one(&format!("v=TLSRPTv1; rua=mailto:a@x.example,{uri}")).unwrap();
    assert!(e[1].rua.as_ref().unwrap_err().contains("longer than"));
    let many: Vec<String> = (0..MAX_URIS + 2).map(|i| format!("mailto:r{i}@x.example")).collect();
    let e = one(&format!("v=TLSRPTv1; rua={}", many.join(","))).unwrap();
    assert_eq!(e.len(), MAX_URIS + 2);
    assert_eq!(e.iter().filter(|e| e.rua.is_ok()).count(), MAX_URIS);
    assert!(e[MAX_URIS].rua.as_ref().unwrap_err().contains("beyond the first"));
}
