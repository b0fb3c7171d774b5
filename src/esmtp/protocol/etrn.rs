//! ETRN (RFC 1985): the nodes, before any mail.

use super::engine::Engine;
use super::stop::Stop;
use crate::esmtp::events::Event;
use crate::esmtp::message::EtrnNode;

impl<'a> Engine<'a> {
    pub(super) fn etrn_then_mail(&mut self) -> Result<(), Stop> {
        if !self.sess.etrn_nodes.is_empty() && self.ext.etrn {
            self.etrn()?;
        }
        self.transactions()
    }

    pub(super) fn etrn(&mut self) -> Result<(), Stop> {
        let nodes: Vec<&EtrnNode> = self.sess.etrn_nodes.iter().collect();
        let command = |n: &EtrnNode| {
            // libESMTP 1.1.0 sent `ETRN  domain` (two spaces) for option 0.
            let mut cmd = b"ETRN ".to_vec();
            if n.option == b'@' as i32 {
                cmd.push(b'@');
            }
            cmd.extend_from_slice(n.domain.to_bytes());
            cmd.extend_from_slice(b"\r\n");
            cmd
        };
        let pipelined = self.ext.pipelining;
        if pipelined {
            for n in &nodes {
                self.write(&command(n))?;
            }
        }
        for n in &nodes {
            if !pipelined {
                self.write(&command(n))?;
            }
            self.reply_into(&n.status)?;
            self.event(Event::EtrnStatus(n), 0);
        }
        Ok(())
    }
}
