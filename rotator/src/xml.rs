//! Just enough XML to change a value inside a document and leave every other byte as it was: the rotator
//! edits the configuration document CloudFront returned instead of rebuilding it from the SDK's types,
//! which would drop every setting the pinned SDK does not model (UpdateDistribution replaces the whole
//! configuration).
//!
//! It reads elements (attributes are skipped), text, CDATA sections, comments and processing
//! instructions, and refuses document type declarations and anything malformed. Errors name byte offsets
//! and element names, never text: the documents hold header values, which are secrets.

use std::ops::Range;

/// Deeper than any CloudFront configuration (about 8 levels); bounds the parser's stack.
const MAX_DEPTH: usize = 64;

/// One element of a [`Document`]: byte ranges into its source.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    /// The name as written (with its prefix, if any).
    name: Range<usize>,
    /// The `<` of the start tag.
    start: usize,
    /// Between the start and the end tag; empty, at the end of the tag, when self-closing.
    content: Range<usize>,
    /// Just after the end tag.
    end: usize,
    /// Child elements, in document order.
    children: Vec<usize>,
    self_closing: bool,
}

/// A parsed document: elements with their positions in the source.
pub(crate) struct Document<'a> {
    src: &'a str,
    elements: Vec<Element>,
    root: usize,
}

// Debug shows the structure only: the source holds secrets.
impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Document {{ {} bytes, {} elements }}",
            self.src.len(),
            self.elements.len()
        )
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The position just after the first `pattern` at or after `from`.
fn after(src: &str, from: usize, pattern: &str, what: &str, at: usize) -> Result<usize, String> {
    src[from..]
        .find(pattern)
        .map(|i| from + i + pattern.len())
        .ok_or_else(|| format!("the {what} at byte {at} is never closed"))
}

impl<'a> Document<'a> {
    /// Parses `src`. One root element; only whitespace, comments and processing instructions around it.
    pub(crate) fn parse(src: &'a str) -> Result<Self, String> {
        let b = src.as_bytes();
        let mut elements: Vec<Element> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        let mut root = None;
        let mut i = if src.starts_with('\u{feff}') { 3 } else { 0 };
        // Every round moves `i` forward by at least one byte.
        while i < b.len() {
            if b[i] != b'<' {
                let next = src[i..].find('<').map_or(b.len(), |n| i + n);
                if open.is_empty() && !b[i..next].iter().all(|c| is_space(*c)) {
                    return Err(format!("text outside the root element at byte {i}"));
                }
                i = next;
                continue;
            }
            let rest = &src[i..];
            if rest.starts_with("<?") {
                i = after(src, i + 2, "?>", "processing instruction", i)?;
            } else if rest.starts_with("<!--") {
                i = after(src, i + 4, "-->", "comment", i)?;
            } else if rest.starts_with("<![CDATA[") {
                if open.is_empty() {
                    return Err(format!("a CDATA section outside the root element at byte {i}"));
                }
                i = after(src, i + 9, "]]>", "CDATA section", i)?;
            } else if rest.starts_with("<!") {
                return Err(format!(
                    "a declaration (<!...) at byte {i}, which a CloudFront configuration never holds"
                ));
            } else if rest.starts_with("</") {
                let close = after(src, i + 2, ">", "end tag", i)? - 1;
                let name = src[i + 2..close].trim_end_matches(|c: char| c.is_ascii_whitespace());
                let Some(top) = open.pop() else {
                    return Err(format!("an end tag without a start tag at byte {i}"));
                };
                let element = &mut elements[top];
                if &src[element.name.clone()] != name {
                    return Err(format!(
                        "the end tag at byte {i} does not close the element opened at byte {}",
                        element.start
                    ));
                }
                element.content.end = i;
                element.end = close + 1;
                i = close + 1;
            } else {
                i = Self::start_tag(src, i, &mut elements, &mut open, &mut root)?;
            }
        }
        if let Some(&unclosed) = open.last() {
            return Err(format!(
                "the element opened at byte {} is never closed",
                elements[unclosed].start
            ));
        }
        let root = root.ok_or("no root element")?;
        Ok(Self { src, elements, root })
    }

    /// Reads the start tag at `i`; returns the position after it.
    fn start_tag(
        src: &str,
        i: usize,
        elements: &mut Vec<Element>,
        open: &mut Vec<usize>,
        root: &mut Option<usize>,
    ) -> Result<usize, String> {
        let b = src.as_bytes();
        let name_end = (i + 1..b.len())
            .find(|&j| is_space(b[j]) || b[j] == b'/' || b[j] == b'>')
            .ok_or_else(|| format!("the tag at byte {i} is never closed"))?;
        if name_end == i + 1 {
            return Err(format!("a tag without a name at byte {i}"));
        }
        // Attributes are skipped; a quoted value may hold '>' or '/'.
        let mut quote = None;
        let mut j = name_end;
        let close = loop {
            let Some(&c) = b.get(j) else {
                return Err(format!("the tag at byte {i} is never closed"));
            };
            match (quote, c) {
                (None, b'"' | b'\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break j,
                (None, b'<') => return Err(format!("'<' inside the tag at byte {i}")),
                _ => {}
            }
            j += 1;
        };
        let self_closing = b[close - 1] == b'/';
        let id = elements.len();
        elements.push(Element {
            name: i + 1..name_end,
            start: i,
            content: close + 1..close + 1,
            end: close + 1,
            children: Vec::new(),
            self_closing,
        });
        match open.last() {
            Some(&parent) => elements[parent].children.push(id),
            None if root.is_some() => return Err(format!("a second root element at byte {i}")),
            None => *root = Some(id),
        }
        if !self_closing {
            open.push(id);
            if open.len() > MAX_DEPTH {
                return Err(format!("elements nested deeper than {MAX_DEPTH} at byte {i}"));
            }
        }
        Ok(close + 1)
    }

    /// The root element.
    pub(crate) fn root(&self) -> usize {
        self.root
    }

    /// The element's name without its namespace prefix.
    pub(crate) fn name(&self, element: usize) -> &'a str {
        let name = &self.src[self.elements[element].name.clone()];
        name.rsplit(':').next().unwrap_or(name)
    }

    /// The children of `element` named `name` (without prefix), in document order.
    pub(crate) fn children<'d>(&'d self, element: usize, name: &'d str) -> impl Iterator<Item = usize> + 'd {
        self.elements[element]
            .children
            .iter()
            .copied()
            .filter(move |&c| self.name(c) == name)
    }

    /// The first child of `element` named `name`.
    pub(crate) fn child(&self, element: usize, name: &str) -> Option<usize> {
        self.children(element, name).next()
    }

    /// The text of an element that holds no elements, entities and CDATA decoded.
    pub(crate) fn text(&self, element: usize) -> Result<String, String> {
        let e = &self.elements[element];
        if !e.children.is_empty() {
            return Err(format!(
                "<{}> holds elements where text was expected",
                self.name(element)
            ));
        }
        let raw = &self.src[e.content.clone()];
        let mut out = String::with_capacity(raw.len());
        let mut i = 0;
        // Every round moves `i` forward by at least one byte; `parse` checked every '<' construct closes.
        while i < raw.len() {
            let rest = &raw[i..];
            if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
                let end = cdata.find("]]>").ok_or("an unclosed CDATA section")?;
                out.push_str(&cdata[..end]);
                i += 9 + end + 3;
            } else if rest.starts_with("<!--") {
                i = after(raw, i + 4, "-->", "comment", i)?;
            } else if rest.starts_with("<?") {
                i = after(raw, i + 2, "?>", "processing instruction", i)?;
            } else if rest.starts_with('<') {
                return Err(format!("markup inside <{}>", self.name(element)));
            } else if let Some(entity) = rest.strip_prefix('&') {
                let end = entity
                    .find(';')
                    .ok_or_else(|| format!("an unterminated entity in <{}>", self.name(element)))?;
                out.push(
                    decode_entity(&entity[..end])
                        .ok_or_else(|| format!("an unknown entity in <{}>", self.name(element)))?,
                );
                i += 1 + end + 1;
            } else {
                let plain = rest.find(['<', '&']).unwrap_or(rest.len());
                out.push_str(&rest[..plain]);
                i += plain;
            }
        }
        Ok(out)
    }

    /// Replaces the content of `element` with `text` (escaped); a self-closing element gets both tags.
    pub(crate) fn set_text(&self, edits: &mut Edits, element: usize, text: &str) {
        let e = &self.elements[element];
        if e.self_closing {
            let name = &self.src[e.name.clone()];
            edits.replace(e.start..e.end, format!("<{name}>{}</{name}>", escape(text)));
        } else {
            edits.replace(e.content.clone(), escape(text));
        }
    }

    /// Inserts `markup` as the last content of `element`; a self-closing element gets both tags.
    pub(crate) fn append(&self, edits: &mut Edits, element: usize, markup: &str) {
        let e = &self.elements[element];
        if e.self_closing {
            let name = &self.src[e.name.clone()];
            edits.replace(e.start..e.end, format!("<{name}>{markup}</{name}>"));
        } else {
            edits.replace(e.content.end..e.content.end, markup.to_owned());
        }
    }

    /// Inserts `markup` right after `element`.
    pub(crate) fn insert_after(&self, edits: &mut Edits, element: usize, markup: &str) {
        let end = self.elements[element].end;
        edits.replace(end..end, markup.to_owned());
    }
}

fn decode_entity(entity: &str) -> Option<char> {
    match entity {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let code = entity.strip_prefix('#')?;
            let code = match code.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => code.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// `text` escaped for element content.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Replacements of byte ranges of one source, applied together.
#[derive(Default)]
pub(crate) struct Edits(Vec<(Range<usize>, String)>);

// The replacements are secrets (header values).
impl std::fmt::Debug for Edits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Edits({} replacements)", self.0.len())
    }
}

impl Edits {
    /// Replaces `range` of the source with `text` (an empty range inserts).
    pub(crate) fn replace(&mut self, range: Range<usize>, text: String) {
        self.0.push((range, text));
    }

    /// Whether there is nothing to change.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `src` with every replacement made. Overlapping replacements are an error.
    pub(crate) fn apply(mut self, src: &str) -> Result<String, String> {
        self.0.sort_by_key(|(range, _)| (range.start, range.end));
        let mut out = String::with_capacity(src.len() + self.0.iter().map(|(_, t)| t.len()).sum::<usize>());
        let mut copied = 0;
        for (range, text) in &self.0 {
            if range.start < copied || range.end > src.len() {
                return Err(format!("overlapping edits at byte {}", range.start));
            }
            out.push_str(&src[copied..range.start]);
            out.push_str(text);
            copied = range.end;
        }
        out.push_str(&src[copied..]);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_structure_text_entities_and_cdata() {
        let src = "\u{feff}<?xml version=\"1.0\"?>\n<!-- c --><r xmlns=\"u\" a='x>y/'><a>1 &amp; &lt;&#65;&#x42;</a>\
                   <b/><p:c>x<![CDATA[<&>]]><!-- no -->y</p:c><a>2</a></r>\n";
        let doc = Document::parse(src).unwrap();
        let root = doc.root();
        assert_eq!(doc.name(root), "r");
        let a: Vec<String> = doc.children(root, "a").map(|a| doc.text(a).unwrap()).collect();
        assert_eq!(a, ["1 & <AB", "2"]);
        assert_eq!(doc.text(doc.child(root, "b").unwrap()).unwrap(), "");
        assert_eq!(doc.text(doc.child(root, "c").unwrap()).unwrap(), "x<&>y");
        assert!(doc.text(root).is_err(), "text of an element holding elements");
    }

    #[test]
    fn refuses_what_is_malformed_without_quoting_it() {
        for bad in [
            "",
            "secret",
            "<a>secret",
            "<a></b>",
            "<a></a><b></b>",
            "<a>x</a>secret",
            "</a>",
            "<!DOCTYPE a><a/>",
            "<a x=\"secret></a>",
            "<a><!-- secret</a>",
            "<a><![CDATA[secret</a>",
            "<>secret</>",
        ] {
            let err = Document::parse(bad).expect_err(bad);
            assert!(!err.contains("secret"), "{bad:?}: {err}");
        }
        let doc = Document::parse("<a>&secret;</a>").unwrap();
        let err = doc.text(doc.root()).unwrap_err();
        assert!(!err.contains("secret"), "{err}");
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert!(Document::parse(&deep).is_err());
    }

    #[test]
    fn edits_change_only_their_ranges() {
        let src = "<r><a>old</a><b/><c><i>1</i></c><d></d></r>";
        let doc = Document::parse(src).unwrap();
        let root = doc.root();
        let mut edits = Edits::default();
        doc.set_text(&mut edits, doc.child(root, "a").unwrap(), "n<&>");
        doc.set_text(&mut edits, doc.child(root, "b").unwrap(), "v");
        doc.append(&mut edits, doc.child(root, "c").unwrap(), "<i>2</i>");
        doc.append(&mut edits, doc.child(root, "d").unwrap(), "<i>3</i>");
        doc.insert_after(&mut edits, doc.child(root, "a").unwrap(), "<z/>");
        let out = edits.apply(src).unwrap();
        assert_eq!(
            out,
            "<r><a>n&lt;&amp;&gt;</a><z/><b>v</b><c><i>1</i><i>2</i></c><d><i>3</i></d></r>"
        );
        let again = Document::parse(&out).unwrap();
        assert_eq!(
            again.text(again.child(again.root(), "a").unwrap()).unwrap(),
            "n<&>"
        );

        let mut overlapping = Edits::default();
        overlapping.replace(1..5, "x".into());
        overlapping.replace(3..4, "y".into());
        assert!(overlapping.apply(src).is_err());
    }
}
