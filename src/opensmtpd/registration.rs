//! Which events a filter asks smtpd for, and the `register|…` lines that
//! say so, in libopensmtpd's order.

use std::collections::BTreeSet;

use super::phase::Phase;

pub const NEED_SRC: u32 = 1 << 0;
pub const NEED_DST: u32 = 1 << 1;
pub const NEED_RDNS: u32 = 1 << 2;
pub const NEED_FCRDNS: u32 = 1 << 3;
pub const NEED_IDENTITY: u32 = 1 << 4;
pub const NEED_GREETING: u32 = 1 << 5;
pub const NEED_CIPHERS: u32 = 1 << 6;
pub const NEED_MSGID: u32 = 1 << 7;
pub const NEED_MAILFROM: u32 = 1 << 8;
pub const NEED_RCPTTO: u32 = 1 << 9;
pub const NEED_EVPID: u32 = 1 << 10;

/// One event of the protocol: a filter phase (smtp-in only) or a report
/// event in a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    Filter(PhaseKey),
    Report { incoming: Direction, phase: PhaseKey },
}

/// Ordering keys that follow libopensmtpd's table: smtp-in before
/// smtp-out, phases in enum order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhaseKey(pub i32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    In,
    Out,
}

impl PhaseKey {
    pub fn of(p: Phase) -> PhaseKey {
        PhaseKey(p as i32)
    }

    pub fn phase(self) -> Phase {
        Phase::all().find(|p| *p as i32 == self.0).unwrap_or(Phase::Timeout)
    }
}

#[derive(Default)]
pub struct Registration {
    /// Events with a callback of the filter's.
    callbacks: BTreeSet<Event>,
    needs: u32,
    local_message: bool,
}

/// The reports a NEED flag asks for, and which of them fills the context.
fn needs_reports(needs: u32, local_message: bool) -> Vec<Phase> {
    let mut v = vec![Phase::LinkDisconnect];
    if needs & (NEED_SRC | NEED_DST | NEED_RDNS | NEED_FCRDNS) != 0 {
        v.push(Phase::LinkConnect);
    }
    if needs & NEED_GREETING != 0 {
        v.push(Phase::LinkGreeting);
    }
    if needs & NEED_IDENTITY != 0 {
        v.push(Phase::LinkIdentify);
    }
    if needs & NEED_CIPHERS != 0 {
        v.push(Phase::LinkTls);
    }
    let tx = [
        (NEED_MSGID, Phase::TxBegin),
        (NEED_MAILFROM, Phase::TxMail),
        (NEED_RCPTTO, Phase::TxRcpt),
        (NEED_EVPID, Phase::TxEnvelope),
    ];
    for (flag, phase) in tx {
        if needs & flag != 0 {
            v.extend([phase, Phase::TxRollback, Phase::TxCommit]);
        }
    }
    if local_message {
        v.extend([Phase::TxBegin, Phase::TxRollback, Phase::TxCommit]);
    }
    v
}

impl Registration {
    /// Records a callback; false if that event already has one.
    pub fn add(&mut self, ev: Event) -> bool {
        self.callbacks.insert(ev)
    }

    pub fn need(&mut self, flags: u32) {
        self.needs |= flags;
    }

    pub fn needs(&self) -> u32 {
        self.needs
    }

    pub fn set_local_message(&mut self, on: bool) {
        self.local_message = on;
    }

    /// Every event smtpd must send: the callbacks', link-disconnect for
    /// each direction in use (the session must be freed), and the reports
    /// the NEED flags ask for, in every direction in use.
    pub fn events(&self) -> BTreeSet<Event> {
        let mut all = self.callbacks.clone();
        let mut dirs = BTreeSet::new();
        for ev in &self.callbacks {
            dirs.insert(match ev {
                Event::Filter(_) => Direction::In,
                Event::Report { incoming, .. } => *incoming,
            });
        }
        for dir in dirs {
            for p in needs_reports(self.needs, self.local_message) {
                all.insert(Event::Report { incoming: dir, phase: PhaseKey::of(p) });
            }
        }
        all
    }

    /// The registration lines, `register|ready` last; `None` when the
    /// filter registered no callback at all.
    pub fn lines(&self) -> Option<Vec<u8>> {
        if self.callbacks.is_empty() {
            return None;
        }
        let mut out = Vec::new();
        for ev in self.events() {
            let line = match ev {
                Event::Filter(p) => format!("register|filter|smtp-in|{}\n", p.phase().name()),
                Event::Report { incoming, phase } => {
                    let dir = if incoming == Direction::In { "smtp-in" } else { "smtp-out" };
                    format!("register|report|{dir}|{}\n", phase.phase().name())
                }
            };
            out.extend_from_slice(line.as_bytes());
        }
        out.extend_from_slice(b"register|ready\n");
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(p: Phase) -> Event {
        Event::Filter(PhaseKey::of(p))
    }

    #[test]
    fn lines_in_table_order_with_needs() {
        let mut r = Registration::default();
        assert!(r.lines().is_none());
        assert!(r.add(filter(Phase::DataLine)));
        assert!(!r.add(filter(Phase::DataLine)));
        r.add(filter(Phase::MailFrom));
        r.need(NEED_MAILFROM | NEED_IDENTITY);
        let text = String::from_utf8(r.lines().unwrap()).unwrap();
        assert_eq!(
            text,
            "register|filter|smtp-in|mail-from\n\
             register|filter|smtp-in|data-line\n\
             register|report|smtp-in|link-disconnect\n\
             register|report|smtp-in|link-identify\n\
             register|report|smtp-in|tx-mail\n\
             register|report|smtp-in|tx-commit\n\
             register|report|smtp-in|tx-rollback\n\
             register|ready\n"
        );
    }

    #[test]
    fn needs_follow_every_direction_in_use() {
        let mut r = Registration::default();
        r.add(Event::Report { incoming: Direction::Out, phase: PhaseKey::of(Phase::Timeout) });
        r.need(NEED_SRC);
        let text = String::from_utf8(r.lines().unwrap()).unwrap();
        assert!(text.contains("register|report|smtp-out|link-connect\n"));
        assert!(!text.contains("smtp-in"));
    }
}
