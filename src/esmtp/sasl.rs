//! SASL mechanisms for SMTP AUTH (RFC 4954), built in where libESMTP
//! loaded them as plugins (`sasl-<name>.so`). Each asks the application
//! for what it needs through an [`Interact`] with libESMTP's requests
//! (names, flags, prompts and sizes are what its plugins asked, which
//! applications' interact callbacks may match on).
//!
//! The engine and the auth-client API (issue 5) sit on top of this.

use std::ffi::CStr;

/// `auth_client_request.flags`.
pub const AUTH_USER: u32 = 0x0001;
pub const AUTH_REALM: u32 = 0x0002;
pub const AUTH_PASS: u32 = 0x0004;
pub const AUTH_CLEARTEXT: u32 = 0x0008;

/// Mechanism flags (`auth_set_mechanism_flags`): the kinds the application
/// must allow before a mechanism of that kind may be used.
pub const PLUGIN_ANONYMOUS: u32 = 0x01;
pub const PLUGIN_PLAIN: u32 = 0x02;
pub const PLUGIN_EXTERNAL: u32 = 0x04;

/// One value a mechanism asks the application for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub name: &'static CStr,
    pub flags: u32,
    pub prompt: &'static CStr,
    /// The longest value the mechanism takes (0: any).
    pub size: u32,
}

/// The application's side: one answer per request, `None` if it refuses.
pub trait Interact {
    fn ask(&self, requests: &[Request]) -> Option<Vec<Vec<u8>>>;
}

pub trait Mechanism {
    /// The SASL name, as `auth_mechanism_name` reports it.
    fn name(&self) -> &'static CStr;
    /// `PLUGIN_*` kinds the application must have allowed.
    fn flags(&self) -> u32;
    /// Security strength of a negotiated layer: none of ours has one.
    fn ssf(&self) -> i32 {
        0
    }
    /// The response to `challenge` (decoded), or with `None` the initial
    /// response. `None` back: nothing to send (no initial response, or
    /// the application refused, or the exchange is over).
    fn respond(&mut self, challenge: Option<&[u8]>, interact: &dyn Interact) -> Option<Vec<u8>>;
}

const USER: Request =
    Request { name: c"user", flags: AUTH_USER | AUTH_CLEARTEXT, prompt: c"User Name", size: 0 };

/// What the engine needs of the application's auth context.
pub trait Authenticator {
    /// Makes `name` (as the server wrote it) the mechanism in use, if it
    /// is built in and the application allows it (`auth_set_mechanism`).
    fn select(&self, name: &[u8]) -> bool;
    /// The next response of the selected mechanism (`auth_response`):
    /// the initial one for `None`, else the answer to a decoded challenge.
    fn response(&self, challenge: Option<&[u8]>) -> Option<Vec<u8>>;
}

/// EXTERNAL (RFC 4422): the identity `auth_set_external_id` gave.
pub fn external(id: &[u8]) -> Box<dyn Mechanism> {
    Box::new(External(id.to_vec()))
}

struct External(Vec<u8>);

impl Mechanism for External {
    fn name(&self) -> &'static CStr {
        c"EXTERNAL"
    }

    fn flags(&self) -> u32 {
        PLUGIN_EXTERNAL
    }

    fn respond(&mut self, challenge: Option<&[u8]>, _: &dyn Interact) -> Option<Vec<u8>> {
        challenge.is_none().then(|| self.0.clone())
    }
}

/// The mechanism called `name` (any case), if built in. `CRAMMD5` is the
/// name libESMTP's plugin file had: programs preload it so.
pub fn by_name(name: &[u8]) -> Option<Box<dyn Mechanism>> {
    let upper = name.to_ascii_uppercase();
    Some(match upper.as_slice() {
        b"PLAIN" => Box::new(Plain),
        b"LOGIN" => Box::new(Login::default()),
        b"CRAM-MD5" | b"CRAMMD5" => Box::new(CramMd5),
        _ => return None,
    })
}

/// PLAIN (RFC 4616): `\0user\0password` as the initial response.
struct Plain;

impl Mechanism for Plain {
    fn name(&self) -> &'static CStr {
        c"PLAIN"
    }

    fn flags(&self) -> u32 {
        PLUGIN_PLAIN
    }

    fn respond(&mut self, challenge: Option<&[u8]>, interact: &dyn Interact) -> Option<Vec<u8>> {
        if challenge.is_some() {
            return None;
        }
        let [user, pass] = ask2(
            interact,
            [
                Request { size: 255, ..USER },
                Request {
                    name: c"passphrase",
                    flags: AUTH_PASS | AUTH_CLEARTEXT,
                    prompt: c"Pass Phrase",
                    size: 255,
                },
            ],
        )?;
        let mut out = Vec::with_capacity(user.len() + pass.len() + 2);
        out.push(0);
        out.extend_from_slice(&user);
        out.push(0);
        out.extend_from_slice(&pass);
        Some(out)
    }
}

/// LOGIN: the user name as the initial response, the password for the
/// next challenge, whatever it says.
#[derive(Default)]
struct Login {
    pass: Option<Vec<u8>>,
    step: u8,
}

impl Mechanism for Login {
    fn name(&self) -> &'static CStr {
        c"LOGIN"
    }

    fn flags(&self) -> u32 {
        PLUGIN_PLAIN
    }

    fn respond(&mut self, challenge: Option<&[u8]>, interact: &dyn Interact) -> Option<Vec<u8>> {
        if challenge.is_none() {
            self.step = 0;
            let [user, pass] = ask2(
                interact,
                [
                    USER,
                    Request {
                        name: c"passphrase",
                        flags: AUTH_PASS | AUTH_CLEARTEXT,
                        prompt: c"Password",
                        size: 0,
                    },
                ],
            )?;
            self.pass = Some(pass);
            self.step = 1;
            return Some(user);
        }
        self.step += 1;
        if self.step == 2 {
            self.pass.take()
        } else {
            None
        }
    }
}

/// CRAM-MD5 (RFC 2195): `user <hex HMAC-MD5(challenge, password)>`.
struct CramMd5;

impl Mechanism for CramMd5 {
    fn name(&self) -> &'static CStr {
        c"CRAM-MD5"
    }

    fn flags(&self) -> u32 {
        0
    }

    fn respond(&mut self, challenge: Option<&[u8]>, interact: &dyn Interact) -> Option<Vec<u8>> {
        let challenge = challenge?;
        let [user, pass] = ask2(
            interact,
            [USER, Request { name: c"passphrase", flags: AUTH_PASS, prompt: c"Pass Phrase", size: 0 }],
        )?;
        let digest = hmac_md5(&pass, challenge)?;
        let mut out = user;
        out.push(b' ');
        for b in digest {
            out.extend_from_slice(format!("{b:02x}").as_bytes());
        }
        Some(out)
    }
}

fn ask2(interact: &dyn Interact, requests: [Request; 2]) -> Option<[Vec<u8>; 2]> {
    let answers = interact.ask(&requests)?;
    let [a, b]: [Vec<u8>; 2] = answers.try_into().ok()?;
    Some([a, b])
}

fn hmac_md5(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    let key = PKey::hmac(key).ok()?;
    let mut signer = Signer::new(MessageDigest::md5(), &key).ok()?;
    signer.update(data).ok()?;
    signer.sign_to_vec().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Answers by flags, and records what it was asked.
    struct App {
        user: &'static [u8],
        pass: &'static [u8],
        refuse: bool,
        asked: RefCell<Vec<Vec<Request>>>,
    }

    impl App {
        fn new(user: &'static [u8], pass: &'static [u8]) -> Self {
            App { user, pass, refuse: false, asked: RefCell::new(Vec::new()) }
        }
    }

    impl Interact for App {
        fn ask(&self, requests: &[Request]) -> Option<Vec<Vec<u8>>> {
            self.asked.borrow_mut().push(requests.to_vec());
            if self.refuse {
                return None;
            }
            Some(
                requests
                    .iter()
                    .map(|r| if r.flags & AUTH_PASS != 0 { self.pass } else { self.user }.to_vec())
                    .collect(),
            )
        }
    }

    #[test]
    fn plain_sends_everything_at_once() {
        let app = App::new(b"user", b"secret");
        let mut m = by_name(b"plain").unwrap();
        assert_eq!(m.name(), c"PLAIN");
        assert_eq!(m.flags(), PLUGIN_PLAIN);
        assert_eq!(m.respond(None, &app).unwrap(), b"\0user\0secret");
        // libESMTP's requests, which applications match on.
        let asked = &app.asked.borrow()[0];
        assert_eq!(
            (asked[0].name, asked[0].flags, asked[0].prompt, asked[0].size),
            (c"user", 0x9, c"User Name", 255)
        );
        assert_eq!(
            (asked[1].name, asked[1].flags, asked[1].prompt, asked[1].size),
            (c"passphrase", 0xc, c"Pass Phrase", 255)
        );
        assert_eq!(m.respond(Some(b"more?"), &app), None);
    }

    #[test]
    fn login_answers_user_then_password() {
        let app = App::new(b"user", b"secret");
        let mut m = by_name(b"LOGIN").unwrap();
        assert_eq!(m.respond(None, &app).unwrap(), b"user");
        assert_eq!(m.respond(Some(b"Password:"), &app).unwrap(), b"secret");
        assert_eq!(m.respond(Some(b"again?"), &app), None);
        let asked = &app.asked.borrow()[0];
        assert_eq!((asked[1].prompt, asked[1].size), (c"Password", 0));
    }

    #[test]
    fn cram_md5_matches_rfc_2195_and_libesmtp() {
        let app = App::new(b"tim", b"tanstaaftanstaaf");
        let mut m = by_name(b"CRAM-MD5").unwrap();
        assert_eq!(m.respond(None, &app), None, "no initial response");
        let r = m.respond(Some(b"<1896.697170952@postoffice.reston.mci.net>"), &app).unwrap();
        assert_eq!(r, b"tim b913a602c7eda7a495b4e6e7334d3890");
        // libESMTP 1.1.0's answer in capi-tests/esmtp/expected/auth_crammd5_preloaded.out.
        let app = App::new(b"user", b"secret");
        let mut m = by_name(b"CRAMMD5").unwrap();
        assert_eq!(m.name(), c"CRAM-MD5");
        let r = m.respond(Some(b"<12345.6789@example.org>"), &app).unwrap();
        assert_eq!(r, b"user 1c07fe2e253e93b66f5de6810e5f4486");
    }

    #[test]
    fn refusal_and_unknown_names() {
        let mut app = App::new(b"u", b"p");
        app.refuse = true;
        assert_eq!(by_name(b"PLAIN").unwrap().respond(None, &app), None);
        assert_eq!(by_name(b"LOGIN").unwrap().respond(None, &app), None);
        assert!(by_name(b"NTLM").is_none() && by_name(b"").is_none());
    }
}
