//! Reading a message from the application's callback.
//!
//! The callback hands out buffers of any size; the reader turns them into
//! lines for header processing and dot-stuffing. Every line end — CRLF,
//! bare LF or bare CR — comes out as CRLF (RFC 5321 §2.3.8 forbids bare
//! ones on the wire, and servers that honour them are open to SMTP
//! smuggling). libESMTP 1.1.0 split only at CRLF and passed bare LFs on.

/// The application's message, as chunks.
pub trait MessageSource {
    /// Starts again from the beginning (called before every transfer).
    fn rewind(&mut self);
    /// Fetches the next chunk: false at the end, `Err(errno)` when the
    /// callback failed.
    fn advance(&mut self) -> Result<bool, i32>;
    /// The chunk the last successful `advance` fetched. The reader works on
    /// it in place: an 8 KiB message is not copied before it is stuffed.
    fn chunk(&self) -> &[u8];
}

pub struct Reader<'s> {
    src: &'s mut dyn MessageSource,
    /// Read position in, and length of, the current chunk.
    pos: usize,
    len: usize,
    eof: bool,
    /// The previous chunk ended in CR: a leading LF belongs to it.
    skip_lf: bool,
}

impl<'s> Reader<'s> {
    pub fn new(src: &'s mut dyn MessageSource) -> Self {
        src.rewind();
        Reader { src, pos: 0, len: 0, eof: false, skip_lf: false }
    }

    /// Makes sure unread bytes are at hand; false at the end.
    fn fill(&mut self) -> Result<bool, i32> {
        while self.pos >= self.len {
            if self.eof {
                return Ok(false);
            }
            self.pos = 0;
            self.len = if self.src.advance()? { self.src.chunk().len() } else { 0 };
            // An empty chunk ends the message, as in libESMTP.
            if self.len == 0 {
                self.eof = true;
            }
            if self.skip_lf && self.len > 0 {
                self.skip_lf = false;
                if self.src.chunk()[0] == b'\n' {
                    self.pos = 1;
                }
            }
        }
        Ok(true)
    }

    /// Appends the next line, ending in CRLF, to `line`. Returns false when
    /// the message is exhausted and nothing was appended.
    pub fn read_line(&mut self, line: &mut Vec<u8>) -> Result<bool, i32> {
        let mut any = false;
        loop {
            if !self.fill()? {
                if any {
                    line.extend_from_slice(b"\r\n");
                }
                return Ok(any);
            }
            any = true;
            let chunk = self.src.chunk();
            let rest = &chunk[self.pos..];
            match memchr::memchr2(b'\n', b'\r', rest) {
                None => {
                    line.extend_from_slice(rest);
                    self.pos = self.len;
                }
                Some(i) => {
                    line.extend_from_slice(&rest[..i]);
                    line.extend_from_slice(b"\r\n");
                    let cr = rest[i] == b'\r';
                    self.pos += i + 1;
                    if cr {
                        if self.pos < self.len {
                            if chunk[self.pos] == b'\n' {
                                self.pos += 1;
                            }
                        } else {
                            self.skip_lf = true;
                        }
                    }
                    return Ok(true);
                }
            }
        }
    }

    /// The next stretch of content to send: either consecutive whole CRLF
    /// lines borrowed from the chunk, none starting with a dot, or a single
    /// line that starts with a dot or had to be assembled in `scratch`
    /// (bare CR or LF, split across chunks). Lets the body go to the
    /// socket from the application's buffer a stretch at a time rather
    /// than copied line by line. `None` when the message is exhausted.
    pub fn next_span<'b>(&'b mut self, scratch: &'b mut Vec<u8>) -> Result<Option<&'b [u8]>, i32> {
        if !self.fill()? {
            return Ok(None);
        }
        let start = self.pos;
        let chunk = self.src.chunk();
        let mut end = start;
        while end < self.len {
            let rest = &chunk[end..];
            // A line that starts with a dot is sent alone, after the dot
            // that stuffs it.
            if end > start && rest[0] == b'.' {
                break;
            }
            match memchr::memchr2(b'\n', b'\r', rest) {
                Some(i) if rest[i] == b'\r' && rest.get(i + 1) == Some(&b'\n') => end += i + 2,
                _ => break,
            }
            if chunk[start] == b'.' {
                break;
            }
        }
        if end > start {
            self.pos = end;
            return Ok(Some(&self.src.chunk()[start..end]));
        }
        scratch.clear();
        Ok(if self.read_line(scratch)? { Some(scratch.as_slice()) } else { None })
    }

    /// The next byte without consuming it (header continuation check).
    pub fn peek(&mut self) -> Result<Option<u8>, i32> {
        if !self.fill()? {
            return Ok(None);
        }
        Ok(Some(self.src.chunk()[self.pos]))
    }

    /// The rest of the message as the callback delivers it, unaltered (BDAT).
    pub fn read_raw(&mut self) -> Result<Option<&[u8]>, i32> {
        if !self.fill()? {
            return Ok(None);
        }
        let start = self.pos;
        self.pos = self.len;
        Ok(Some(&self.src.chunk()[start..]))
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A source serving fixed chunks, for tests across the crate.
    pub struct Chunks(pub Vec<Vec<u8>>, pub usize);

    impl MessageSource for Chunks {
        fn rewind(&mut self) {
            self.1 = 0;
        }
        fn advance(&mut self) -> Result<bool, i32> {
            self.1 += 1;
            Ok(self.1 <= self.0.len())
        }
        fn chunk(&self) -> &[u8] {
            self.1.checked_sub(1).and_then(|i| self.0.get(i)).map_or(&[], Vec::as_slice)
        }
    }

    fn lines(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut src = Chunks(chunks.iter().map(|c| c.to_vec()).collect(), 0);
        let mut r = Reader::new(&mut src);
        let mut out = Vec::new();
        loop {
            let mut l = Vec::new();
            if !r.read_line(&mut l).unwrap() {
                return out;
            }
            out.push(l);
        }
    }

    #[test]
    fn every_line_end_becomes_crlf() {
        let got = lines(&[b"a\r\nb\nc\rd", b"\r", b"\ne"]);
        let want: Vec<&[u8]> = vec![b"a\r\n", b"b\r\n", b"c\r\n", b"d\r\n", b"e\r\n"];
        assert_eq!(got, want);
    }

    #[test]
    fn lines_span_chunks() {
        let got = lines(&[b"hel", b"lo\r", b"\n", b"x"]);
        let want: Vec<&[u8]> = vec![b"hello\r\n", b"x\r\n"];
        assert_eq!(got, want);
    }

    #[test]
    fn borrowed_and_assembled_lines_agree() {
        let chunks: &[&[u8]] = &[b"a\r\nb\nc\rd", b"\r", b"\ne\r\n\r\nlast"];
        let mut src = Chunks(chunks.iter().map(|c| c.to_vec()).collect(), 0);
        let mut r = Reader::new(&mut src);
        let mut scratch = Vec::new();
        let mut got = Vec::new();
        while let Some(span) = r.next_span(&mut scratch).unwrap() {
            got.extend(span.split_inclusive(|&c| c == b'\n').map(<[u8]>::to_vec));
        }
        assert_eq!(got, lines(chunks));
    }

    #[test]
    fn spans_are_whole_lines_with_dot_lines_alone() {
        let chunks: &[&[u8]] = &[b"a\r\nb\r\n.c\r\nd\r\ne\r\n..\r\n", b"f\nx", b"y\r\n", b"z"];
        let mut src = Chunks(chunks.iter().map(|c| c.to_vec()).collect(), 0);
        let mut r = Reader::new(&mut src);
        let mut scratch = Vec::new();
        let mut got = Vec::new();
        while let Some(span) = r.next_span(&mut scratch).unwrap() {
            got.push(span.to_vec());
        }
        let want: Vec<&[u8]> =
            vec![b"a\r\nb\r\n", b".c\r\n", b"d\r\ne\r\n", b"..\r\n", b"f\r\n", b"xy\r\n", b"z\r\n"];
        assert_eq!(got, want);
        // The same content as line by line.
        assert_eq!(got.concat(), lines(chunks).concat());
    }

    #[test]
    fn raw_after_lines() {
        let mut src = Chunks(vec![b"H: v\r\n\r\nbody".to_vec(), b"more".to_vec()], 0);
        let mut r = Reader::new(&mut src);
        let mut l = Vec::new();
        r.read_line(&mut l).unwrap();
        r.read_line(&mut l).unwrap();
        assert_eq!(r.read_raw().unwrap(), Some(&b"body"[..]));
        assert_eq!(r.read_raw().unwrap(), Some(&b"more"[..]));
        assert_eq!(r.read_raw().unwrap(), None);
    }
}
