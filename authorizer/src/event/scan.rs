//! The fast reader: one pass over the event's bytes, no serde, no allocation.
//!
//! It accepts and refuses exactly what the reference reader does after a UTF-8 check of the whole input —
//! serde_json's grammar: whitespace is
//! space, tab, newline and carriage return; strings hold no raw control character and only valid
//! escapes; numbers are written as JSON writes them; nothing but whitespace follows the object — and
//! collects the same fields. It declines ([`Stop::Decline`]) where that would need the decoded value of a
//! string with an escape in it (a top-level key, a header name, the header's value, a kind or ARN field,
//! an `identitySource` string or element) or where skipped values nest deeper than [`MAX_DEPTH`]; the
//! reference reads those events instead.
//!
//! Why it is faster than the reference (and level with serde_json merely skipping the event, which checks
//! no UTF-8): no visitor calls, no nesting stack on the heap, string bodies skipped eight bytes at a time,
//! and no separate UTF-8 pass: outside strings only ASCII is valid JSON, so only strings holding a byte
//! above 0x7F are checked, each on its own.

use std::borrow::Cow;

use super::{Field, Fields, Found, Listed};

/// How deeply skipped values may nest before the reader declines. The reference has no limit when it
/// skips; events nest four levels.
const MAX_DEPTH: u32 = 128;

/// Why the reader stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// Not JSON, a field of the wrong type, or a field given twice: what the reference says too.
    Malformed,
    /// The reference must read this event.
    Decline,
}

type Step<T> = Result<T, Stop>;

/// Reads `raw` completely, looking for `header` (given in lower case). Input that is not UTF-8 is
/// malformed.
pub(super) fn read<'a>(raw: &'a [u8], header: &str) -> Step<Fields<'a>> {
    let mut reader = Reader { bytes: raw, pos: 0 };
    let mut fields = Fields::default();
    reader.object(|r, key| {
        let Some(field) = Field::of(key.ok_or(Stop::Decline)?) else {
            return r.skip_value();
        };
        if !fields.first_sight(field) {
            return Err(Stop::Malformed);
        }
        match field {
            Field::Version => fields.version = r.optional_str()?,
            Field::Type => fields.kind = r.optional_str()?,
            Field::RouteArn => fields.route_arn = r.optional_str()?,
            Field::MethodArn => fields.method_arn = r.optional_str()?,
            Field::AuthorizationToken => fields.token = r.optional_str()?,
            Field::Headers => r.headers(header, &mut fields.header)?,
            Field::MultiValueHeaders => fields.multi_count = r.multi_count(header)?,
            Field::IdentitySource => fields.identity = r.listed()?,
        }
        Ok(())
    })?;
    reader.end()?;
    Ok(fields)
}

struct Reader<'a> {
    bytes: &'a [u8],
    /// The next byte to read.
    pos: usize,
}

impl<'a> Reader<'a> {
    /// The next byte after whitespace, not consumed; the end of input is malformed wherever this is asked.
    #[inline]
    fn peek(&mut self) -> Step<u8> {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(Stop::Malformed)
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Step<()> {
        if self.peek()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    }

    /// Only whitespace may follow the event.
    fn end(&mut self) -> Step<()> {
        match self.peek() {
            Err(_) => Ok(()),
            Ok(_) => Err(Stop::Malformed),
        }
    }

    /// `true`, `false` or `null`, whose first byte is next.
    fn literal(&mut self, word: &[u8]) -> Step<()> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Stop::Malformed)
        }
    }

    /// After an opening quote: moves past the closing one. Returns where the contents end and whether
    /// they hold an escape. Contents with a byte above 0x7F are checked to be UTF-8 here.
    #[inline(always)]
    fn string(&mut self) -> Step<(usize, bool)> {
        let start = self.pos;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            self.pos = plain_run_end(self.bytes, self.pos, ascii);
            match self.bytes.get(self.pos) {
                Some(b'"') => {
                    if !ascii && std::str::from_utf8(&self.bytes[start..self.pos]).is_err() {
                        return Err(Stop::Malformed);
                    }
                    self.pos += 1;
                    return Ok((self.pos - 1, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(0x80..) => ascii = false,
                // A raw control character, or the end of input.
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// At a backslash: one valid escape (serde_json does not check surrogates where it only skips, and
    /// neither does this; strings whose value matters are declined when escaped).
    fn escape(&mut self) -> Step<()> {
        match self.bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => match self.bytes.get(self.pos + 2..self.pos + 6) {
                Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {
                    self.pos += 6;
                    Ok(())
                }
                _ => Err(Stop::Malformed),
            },
            _ => Err(Stop::Malformed),
        }
    }

    /// A string whose value matters, after its opening quote.
    fn plain_str(&mut self) -> Step<&'a str> {
        let start = self.pos;
        let (end, escaped) = self.string()?;
        if escaped {
            return Err(Stop::Decline);
        }
        text(&self.bytes[start..end])
    }

    /// A string or `null`.
    fn optional_str(&mut self) -> Step<Option<Cow<'a, str>>> {
        match self.peek()? {
            b'n' => self.literal(b"null").map(|()| None),
            b'"' => {
                self.pos += 1;
                self.plain_str().map(|s| Some(Cow::Borrowed(s)))
            }
            _ => Err(Stop::Malformed),
        }
    }

    /// An object, handing each key to `member` (`None` when the key has an escape), which reads the value.
    /// Keys are compared as bytes: only values that are kept need to be `str`.
    #[inline]
    fn object(&mut self, mut member: impl FnMut(&mut Self, Option<&'a [u8]>) -> Step<()>) -> Step<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.expect(b'"')?;
            let start = self.pos;
            let (end, escaped) = self.string()?;
            let key = (!escaped).then(|| &self.bytes[start..end]);
            self.expect(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// `headers`: `null`, or an object in which the header's value, if present, is a string.
    fn headers(&mut self, header: &str, found: &mut Found<'a>) -> Step<()> {
        if self.peek()? == b'n' {
            return self.literal(b"null");
        }
        self.object(|r, name| {
            if !name.ok_or(Stop::Decline)?.eq_ignore_ascii_case(header.as_bytes()) {
                return r.skip_value();
            }
            r.expect(b'"')?;
            found.add(Cow::Borrowed(r.plain_str()?));
            Ok(())
        })
    }

    /// `multiValueHeaders`: how many values the header has (`null` has none; its entry must be a list).
    fn multi_count(&mut self, header: &str) -> Step<usize> {
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|()| 0);
        }
        let mut count = 0;
        self.object(|r, name| {
            if !name.ok_or(Stop::Decline)?.eq_ignore_ascii_case(header.as_bytes()) {
                return r.skip_value();
            }
            count += r.list_len()?;
            Ok(())
        })?;
        Ok(count)
    }

    /// `identitySource`: `null` (`None`), a string, or a list of strings, of which the length and the first
    /// are kept. Every element is a string whose escapes would be decoded by the reference (which reads
    /// each one as a string), so an escape anywhere in the list declines.
    fn listed(&mut self) -> Step<Option<Listed<'a>>> {
        match self.peek()? {
            b'n' => return self.literal(b"null").map(|()| None),
            b'"' => {
                self.pos += 1;
                return self.plain_str().map(|s| Some(Listed::Text(Cow::Borrowed(s))));
            }
            b'[' => self.pos += 1,
            _ => return Err(Stop::Malformed),
        }
        let (mut len, mut first) = (0, None);
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(Some(Listed::List { len, first }));
        }
        // Each turn consumes at least an element's two quotes: bounded by the input.
        loop {
            self.expect(b'"')?;
            let element = self.plain_str()?;
            if len == 0 {
                first = Some(Cow::Borrowed(element));
            }
            len += 1;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(Some(Listed::List { len, first }));
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// The number of elements of a list, skipping them.
    fn list_len(&mut self) -> Step<usize> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(0);
        }
        let mut len = 0;
        loop {
            self.skip_value()?;
            len += 1;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(len);
                }
                _ => return Err(Stop::Malformed),
            }
        }
    }

    /// Any one value, checked and skipped. Iterative: the open containers are bits of one integer.
    fn skip_value(&mut self) -> Step<()> {
        // Innermost container in the lowest bit: 1 for an object, 0 for a list.
        let mut open: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value starts here.
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    self.string()?;
                }
                opening @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return Err(Stop::Decline);
                    }
                    self.pos += 1;
                    let is_object = opening == b'{';
                    let closing = if is_object { b'}' } else { b']' };
                    if self.peek()? == closing {
                        self.pos += 1;
                    } else {
                        open = (open << 1) | u128::from(is_object);
                        depth += 1;
                        if is_object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return Err(Stop::Malformed),
            }
            // A value ended: close containers until one goes on.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = open & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if in_object {
                            self.member_key()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return Err(Stop::Malformed),
                }
                self.pos += 1;
                open >>= 1;
                depth -= 1;
            }
        }
    }

    /// `"key":` inside a skipped object.
    fn member_key(&mut self) -> Step<()> {
        self.expect(b'"')?;
        self.string()?;
        self.expect(b':')
    }

    /// A number as JSON writes it: `-`?, `0` or digits without a leading zero, then `.digits`?, then an
    /// exponent with at least one digit?
    fn number(&mut self) -> Step<()> {
        let b = self.bytes;
        let digits_from = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = self.pos + usize::from(b.get(self.pos) == Some(&b'-'));
        i = match b.get(i) {
            Some(b'0') if b.get(i + 1).is_some_and(u8::is_ascii_digit) => return Err(Stop::Malformed),
            Some(b'0') => i + 1,
            Some(b'1'..=b'9') => digits_from(i + 1),
            _ => return Err(Stop::Malformed),
        };
        if b.get(i) == Some(&b'.') {
            let end = digits_from(i + 1);
            if end == i + 1 {
                return Err(Stop::Malformed);
            }
            i = end;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1 + usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
            let end = digits_from(i);
            if end == i {
                return Err(Stop::Malformed);
            }
            i = end;
        }
        self.pos = i;
        Ok(())
    }
}

/// String contents already checked by [`Reader::string`] (so this never fails on them) as `str`.
fn text(contents: &[u8]) -> Step<&str> {
    std::str::from_utf8(contents).map_err(|_| Stop::Malformed)
}

/// The index of the first `"`, `\` or control character at or after `pos` — or, while `ascii`, byte
/// above 0x7F — or the end of `bytes`.
///
/// Eight bytes at a time: for each byte, the classic "has a zero byte" bit trick on the byte itself
/// minus 0x20, and on it XOR `"` and XOR `\`; the high bit itself for non-ASCII. A borrow can only mark
/// bytes *above* a real match, so the lowest marked byte is always the first real one.
#[inline(always)]
fn plain_run_end(bytes: &[u8], pos: usize, ascii: bool) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let Some(rest) = bytes.get(pos..) else {
        return bytes.len();
    };
    let mut chunks = rest.chunks_exact(8);
    let mut offset = pos;
    for chunk in &mut chunks {
        let Ok(eight) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(eight);
        let control = word.wrapping_sub(ONES * 0x20) & !word;
        let quote = word ^ (ONES * u64::from(b'"'));
        let quote = quote.wrapping_sub(ONES) & !quote;
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let backslash = backslash.wrapping_sub(ONES) & !backslash;
        let non_ascii = if ascii { word } else { 0 };
        let marked = (control | quote | backslash | non_ascii) & HIGH;
        if marked != 0 {
            return offset + (marked.trailing_zeros() / 8) as usize;
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20 || (ascii && b >= 0x80))
        .map_or(bytes.len(), |i| offset + i)
}
