//! The header edit, made in the configuration document GetDistributionConfig returned rather than in the
//! SDK's types: UpdateDistribution replaces the whole configuration, and a round trip through the types
//! would drop every setting the pinned SDK does not model (CloudFront adds settings often). Every byte
//! outside the changed header values (and, when a header is added, its `Quantity`) goes back as it came.

use origin_verify_shared::Sensitive;

use crate::cloudfront::{targets, Need, OriginView};
use crate::xml::{escape, Document, Edits};

/// Why a document was not edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EditError {
    /// The document is not one this code can edit safely (malformed, not a `DistributionConfig`, or read
    /// differently by the SDK). Names positions and elements, never text.
    Document(String),
    /// No origin to set the header on (see [`targets`]).
    NoTarget(String),
}

/// What [`set_header`] did.
#[derive(Debug)]
pub(crate) struct Edited {
    /// The edited document; `None` when every target origin sends the value already.
    pub document: Option<Sensitive>,
    /// Ids of the origins the header belongs on.
    pub origins: Vec<String>,
}

/// One origin as the document has it.
struct DocOrigin {
    element: usize,
    view: OriginView,
    custom_headers: Option<usize>,
    /// The `HeaderValue` of the first header whose name matches.
    value: Option<usize>,
}

fn required(doc: &Document<'_>, parent: usize, name: &str) -> Result<usize, String> {
    doc.child(parent, name)
        .ok_or_else(|| format!("a <{}> without <{name}>", doc.name(parent)))
}

/// The origins of a `DistributionConfig` document and what each sends under `header`.
fn read(doc: &Document<'_>, header: &str) -> Result<Vec<DocOrigin>, String> {
    let root = doc.root();
    if doc.name(root) != "DistributionConfig" {
        return Err("the document is not a <DistributionConfig>".into());
    }
    let Some(items) = doc.child(required(doc, root, "Origins")?, "Items") else {
        return Ok(Vec::new());
    };
    doc.children(items, "Origin")
        .map(|element| {
            let id = doc.text(required(doc, element, "Id")?)?;
            let custom_headers = doc.child(element, "CustomHeaders");
            let mut value = None;
            if let Some(items) = custom_headers.and_then(|c| doc.child(c, "Items")) {
                for h in doc.children(items, "OriginCustomHeader") {
                    if doc
                        .text(required(doc, h, "HeaderName")?)?
                        .eq_ignore_ascii_case(header)
                    {
                        value = Some(required(doc, h, "HeaderValue")?);
                        break;
                    }
                }
            }
            let sent = value.map(|v| doc.text(v).map(Sensitive::new)).transpose()?;
            Ok(DocOrigin {
                element,
                view: OriginView { id, sent },
                custom_headers,
                value,
            })
        })
        .collect()
}

/// Adds the header to an origin that does not send it (only origins listed in `CLOUDFRONT_ORIGIN_IDS`).
fn add_header(
    doc: &Document<'_>,
    edits: &mut Edits,
    origin: &DocOrigin,
    header: &str,
    value: &str,
) -> Result<(), String> {
    let item = format!(
        "<OriginCustomHeader><HeaderName>{}</HeaderName><HeaderValue>{}</HeaderValue></OriginCustomHeader>",
        escape(header),
        escape(value)
    );
    match origin.custom_headers {
        Some(custom_headers) => {
            let quantity = required(doc, custom_headers, "Quantity")?;
            let items = doc.child(custom_headers, "Items");
            let count = items.map_or(0, |i| doc.children(i, "OriginCustomHeader").count());
            doc.set_text(edits, quantity, &(count + 1).to_string());
            match items {
                Some(items) => doc.append(edits, items, &item),
                None => doc.insert_after(edits, quantity, &format!("<Items>{item}</Items>")),
            }
        }
        None => {
            // CloudFront's order inside <Origin>: Id, DomainName, OriginPath, CustomHeaders, ...
            let before = doc
                .child(origin.element, "OriginPath")
                .map_or_else(|| required(doc, origin.element, "DomainName"), Ok)?;
            let block = format!("<CustomHeaders><Quantity>1</Quantity><Items>{item}</Items></CustomHeaders>");
            doc.insert_after(edits, before, &block);
        }
    }
    Ok(())
}

/// Sets `header` to `value` in `document` on the origins [`targets`] picks. `sdk` is what the SDK read
/// from the same answer: the document must read the same, or nothing is changed (a second, independent
/// reading guards this code's). The edited document is read back and checked before it is returned.
pub(crate) fn set_header(
    document: &str,
    sdk: &[OriginView],
    header: &str,
    value: &str,
    origin_ids: &[String],
) -> Result<Edited, EditError> {
    let doc = Document::parse(document).map_err(EditError::Document)?;
    let origins = read(&doc, header).map_err(EditError::Document)?;
    let before: Vec<OriginView> = origins.iter().map(|o| o.view.clone()).collect();
    if before != sdk {
        return Err(EditError::Document(
            "the document and the SDK's reading of it disagree about the origins' headers".into(),
        ));
    }
    let targets = targets(&before, header, value, origin_ids).map_err(EditError::NoTarget)?;
    let mut edits = Edits::default();
    for (id, need) in &targets {
        let Some(origin) = origins.iter().find(|o| &o.view.id == id) else {
            continue;
        };
        match (need, origin.value) {
            (Need::Nothing, _) => {}
            (Need::Replace, Some(element)) => doc.set_text(&mut edits, element, value),
            (Need::Add, _) => {
                add_header(&doc, &mut edits, origin, header, value).map_err(EditError::Document)?
            }
            (Need::Replace, None) => {
                return Err(EditError::Document(format!("origin {id:?} lost its header")));
            }
        }
    }
    let origins: Vec<String> = targets.into_iter().map(|(id, _)| id).collect();
    if edits.is_empty() {
        return Ok(Edited {
            document: None,
            origins,
        });
    }
    let edited = Sensitive::new(edits.apply(document).map_err(EditError::Document)?);
    check_edit(edited.expose(), &before, &origins, header, value)?;
    Ok(Edited {
        document: Some(edited),
        origins,
    })
}

/// The edited document reads back with the same origins, every target sending `value`, every other
/// origin sending what it sent before.
fn check_edit(
    edited: &str,
    before: &[OriginView],
    changed: &[String],
    header: &str,
    value: &str,
) -> Result<(), EditError> {
    let doc = Document::parse(edited).map_err(EditError::Document)?;
    let after = read(&doc, header).map_err(EditError::Document)?;
    let as_intended = after.len() == before.len()
        && before.iter().zip(&after).all(|(b, a)| {
            b.id == a.view.id
                && if changed.contains(&b.id) {
                    a.view.sent.as_ref().is_some_and(|s| s.expose() == value)
                } else {
                    a.view.sent == b.sent
                }
        });
    if as_intended {
        Ok(())
    } else {
        Err(EditError::Document(
            "the edited document does not read back as intended".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "x-origin-verify";

    /// An origin: id, and its custom headers; `None` leaves out the `CustomHeaders` element.
    fn origin(id: &str, headers: Option<&[(&str, &str)]>) -> String {
        let headers = match headers {
            None => String::new(),
            Some([]) => "<CustomHeaders><Quantity>0</Quantity></CustomHeaders>".to_owned(),
            Some(list) => {
                let items: String = list
                    .iter()
                    .map(|(n, v)| {
                        format!(
                            "<OriginCustomHeader><HeaderName>{n}</HeaderName><HeaderValue>{v}</HeaderValue></OriginCustomHeader>"
                        )
                    })
                    .collect();
                format!(
                    "<CustomHeaders><Quantity>{}</Quantity><Items>{items}</Items></CustomHeaders>",
                    list.len()
                )
            }
        };
        format!(
            "<Origin><Id>{id}</Id><DomainName>{id}.example</DomainName><OriginPath></OriginPath>{headers}\
             <CustomOriginConfig><HTTPPort>80</HTTPPort></CustomOriginConfig><Unmodelled a=\"1\">kept</Unmodelled></Origin>"
        )
    }

    fn document(origins: &[String]) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DistributionConfig xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
             <CallerReference>r</CallerReference><Origins><Quantity>{}</Quantity><Items>{}</Items></Origins>\
             <Comment></Comment><Enabled>true</Enabled><FutureSetting><X>1</X></FutureSetting></DistributionConfig>",
            origins.len(),
            origins.concat()
        )
    }

    /// What the SDK would read: here, this module's own reading (the disagreement test builds its own).
    fn views(document: &str) -> Vec<OriginView> {
        let doc = Document::parse(document).unwrap();
        read(&doc, HEADER).unwrap().into_iter().map(|o| o.view).collect()
    }

    fn set(document: &str, value: &str, origin_ids: &[String]) -> Result<Edited, EditError> {
        set_header(document, &views(document), HEADER, value, origin_ids)
    }

    #[test]
    fn sets_every_origin_that_sends_the_header_ignoring_case_and_keeps_every_other_byte() {
        let before = document(&[
            origin("api", Some(&[("X-Origin-Verify", "old"), ("other", "keep")])),
            origin("api2", Some(&[("x-origin-verify", "old")])),
            origin("s3", Some(&[])),
            origin("near", Some(&[("x-origin-verify-2", "keep")])),
        ]);
        let edited = set(&before, "new", &[]).unwrap();
        assert_eq!(edited.origins, ["api", "api2"]);
        let expected = document(&[
            origin("api", Some(&[("X-Origin-Verify", "new"), ("other", "keep")])),
            origin("api2", Some(&[("x-origin-verify", "new")])),
            origin("s3", Some(&[])),
            origin("near", Some(&[("x-origin-verify-2", "keep")])),
        ]);
        let document = edited.document.expect("a change");
        assert!(document.expose() == expected, "only the two values changed");

        let again = set(document.expose(), "new", &[]).unwrap();
        assert!(again.document.is_none(), "already set: nothing to update");
    }

    #[test]
    fn configured_origin_ids_restrict_and_add_where_missing() {
        let before = document(&[
            origin("api", Some(&[(HEADER, "old")])),
            origin("bare", None),
            origin("empty", Some(&[])),
            origin("other", Some(&[("x-other", "keep")])),
        ]);
        let ids: Vec<String> = ["bare", "empty", "other"].map(String::from).to_vec();
        let edited = set(&before, "new", &ids).unwrap();
        assert_eq!(edited.origins, ids);
        let expected = document(&[
            origin("api", Some(&[(HEADER, "old")])),
            origin("bare", Some(&[(HEADER, "new")])),
            origin("empty", Some(&[(HEADER, "new")])),
            origin("other", Some(&[("x-other", "keep"), (HEADER, "new")])),
        ]);
        assert!(edited.document.expect("a change").expose() == expected);

        let missing = set(&before, "v", &["nope".into()]).unwrap_err();
        assert!(
            matches!(&missing, EditError::NoTarget(p) if p.contains("nope")),
            "{missing:?}"
        );
    }

    #[test]
    fn no_matching_origin_is_an_error_that_names_the_header() {
        let before = document(&[origin("s3", Some(&[]))]);
        let err = set(&before, "v", &[]).unwrap_err();
        assert!(
            matches!(&err, EditError::NoTarget(p) if p.contains(HEADER)),
            "{err:?}"
        );
    }

    #[test]
    fn a_document_the_sdk_reads_differently_is_not_edited() {
        let before = document(&[origin("api", Some(&[(HEADER, "old")]))]);
        let sdk = vec![OriginView {
            id: "api".into(),
            sent: Some(Sensitive::new("other".into())),
        }];
        let err = set_header(&before, &sdk, HEADER, "new", &[]).unwrap_err();
        assert!(matches!(err, EditError::Document(_)), "{err:?}");
        let sdk_more = [views(&before), views(&before)].concat();
        assert!(set_header(&before, &sdk_more, HEADER, "new", &[]).is_err());
    }

    #[test]
    fn documents_that_are_not_a_distribution_config_are_refused_without_quoting_them() {
        for bad in [
            "<Distribution><Origins/></Distribution>".to_owned(),
            "<DistributionConfig><Origins><Items><Origin><DomainName>secret</DomainName></Origin></Items></Origins></DistributionConfig>".to_owned(),
            document(&[origin("api", Some(&[(HEADER, "secret")]))]).replace("</Origins>", ""),
        ] {
            let err = set_header(&bad, &[], HEADER, "new", &[]).unwrap_err();
            assert!(
                matches!(&err, EditError::Document(p) if !p.contains("secret")),
                "{err:?}"
            );
        }
    }
}
