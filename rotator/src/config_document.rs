//! The header edit, made in the configuration document GetDistributionConfig returned rather than in the
//! SDK's types: UpdateDistribution replaces the whole configuration, and a round trip through the types
//! would drop every setting the pinned SDK does not model (CloudFront adds settings often). Every byte
//! outside the changed header values (and, when a header is added, its `Quantity`) goes back as it came.

use origin_verify_shared::Sensitive;

use crate::cloudfront::{targets, Need, OriginView, TargetError};
use crate::xml::{escape, Document, Edits};

/// Why a document was not edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EditError {
    /// The document is not one this code can edit safely (malformed, not a `DistributionConfig`, or read
    /// differently by the SDK). Names positions and elements, never text.
    Document(String),
    /// A listed origin is missing or may not get the header (see [`targets`]).
    Target(TargetError),
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
            let domain = doc.text(required(doc, element, "DomainName")?)?;
            let protocol = doc
                .child(element, "CustomOriginConfig")
                .and_then(|c| doc.child(c, "OriginProtocolPolicy"))
                .map(|p| doc.text(p))
                .transpose()?;
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
                view: OriginView {
                    id,
                    domain,
                    protocol,
                    sent,
                },
                custom_headers,
                value,
            })
        })
        .collect()
}

/// Adds the header to a listed origin that does not send it.
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

/// Sets `header` to `value` in `document` on the origins [`targets`] picks (`origin_ids`, each checked
/// against `api_hosts`). `sdk` is what the SDK read from the same answer: the document must read the same
/// (ids, domains, protocol policies, header values), or nothing is changed (a second, independent reading
/// guards this code's). The edited document is read back and checked before it is returned.
pub(crate) fn set_header(
    document: &str,
    sdk: &[OriginView],
    header: &str,
    value: &str,
    origin_ids: &[String],
    api_hosts: &[String],
) -> Result<Edited, EditError> {
    let doc = Document::parse(document).map_err(EditError::Document)?;
    let origins = read(&doc, header).map_err(EditError::Document)?;
    let before: Vec<OriginView> = origins.iter().map(|o| o.view.clone()).collect();
    if before != sdk {
        return Err(EditError::Document(
            "the document and the SDK's reading of it disagree about the origins".into(),
        ));
    }
    let targets = targets(&before, value, origin_ids, api_hosts).map_err(EditError::Target)?;
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
                && b.domain == a.view.domain
                && b.protocol == a.view.protocol
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

    /// An origin: id, its custom headers (`None` leaves out the `CustomHeaders` element), at `{id}.example`
    /// with protocol policy `https-only`.
    fn origin(id: &str, headers: Option<&[(&str, &str)]>) -> String {
        origin_with(id, &format!("{id}.example"), "https-only", headers)
    }

    fn origin_with(id: &str, domain: &str, protocol: &str, headers: Option<&[(&str, &str)]>) -> String {
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
            "<Origin><Id>{id}</Id><DomainName>{domain}</DomainName><OriginPath></OriginPath>{headers}\
             <CustomOriginConfig><HTTPPort>80</HTTPPort><OriginProtocolPolicy>{protocol}</OriginProtocolPolicy>\
             </CustomOriginConfig><Unmodelled a=\"1\">kept</Unmodelled></Origin>"
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

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// Sets the header on `origin_ids`, every `{id}.example` domain being the API's.
    fn set(document: &str, value: &str, origin_ids: &[String]) -> Result<Edited, EditError> {
        let hosts: Vec<String> = views(document).into_iter().map(|v| v.domain).collect();
        set_header(document, &views(document), HEADER, value, origin_ids, &hosts)
    }

    #[test]
    fn sets_the_listed_origins_ignoring_case_and_keeps_every_other_byte() {
        let before = document(&[
            origin("api", Some(&[("X-Origin-Verify", "old"), ("other", "keep")])),
            origin("api2", Some(&[("x-origin-verify", "old")])),
            origin("s3", Some(&[])),
            origin("near", Some(&[("x-origin-verify-2", "keep")])),
        ]);
        let edited = set(&before, "new", &ids(&["api2", "api"])).unwrap();
        assert_eq!(edited.origins, ["api", "api2"]);
        let expected = document(&[
            origin("api", Some(&[("X-Origin-Verify", "new"), ("other", "keep")])),
            origin("api2", Some(&[("x-origin-verify", "new")])),
            origin("s3", Some(&[])),
            origin("near", Some(&[("x-origin-verify-2", "keep")])),
        ]);
        let document = edited.document.expect("a change");
        assert!(document.expose() == expected, "only the two values changed");

        let again = set(document.expose(), "new", &ids(&["api", "api2"])).unwrap();
        assert!(again.document.is_none(), "already set: nothing to update");
    }

    // Issue 13, item 3: an origin that is not listed keeps its header, whatever its name.
    #[test]
    fn origins_not_listed_are_untouched_and_listed_ones_get_the_header_added_where_missing() {
        let before = document(&[
            origin("api", Some(&[(HEADER, "old")])),
            origin("bare", None),
            origin("empty", Some(&[])),
            origin("other", Some(&[("x-other", "keep")])),
        ]);
        let listed = ids(&["bare", "empty", "other"]);
        let edited = set(&before, "new", &listed).unwrap();
        assert_eq!(edited.origins, listed);
        let expected = document(&[
            origin("api", Some(&[(HEADER, "old")])),
            origin("bare", Some(&[(HEADER, "new")])),
            origin("empty", Some(&[(HEADER, "new")])),
            origin("other", Some(&[("x-other", "keep"), (HEADER, "new")])),
        ]);
        assert!(edited.document.expect("a change").expose() == expected);

        let missing = set(&before, "v", &ids(&["nope"])).unwrap_err();
        assert!(
            matches!(&missing, EditError::Target(TargetError::Missing(p)) if p.contains("nope")),
            "{missing:?}"
        );
    }

    // Issue 13, item 3: the header goes only over HTTPS, and only to the API's hosts.
    #[test]
    fn a_listed_origin_that_is_not_https_only_or_not_the_api_is_refused() {
        let api_hosts = ids(&["abc1234567.execute-api.us-east-1.amazonaws.com"]);
        let cases = [
            (
                origin_with("o", &api_hosts[0], "http-only", Some(&[(HEADER, "old")])),
                "http-only",
            ),
            (
                origin_with("o", &api_hosts[0], "match-viewer", None),
                "match-viewer",
            ),
            (
                "<Origin><Id>o</Id><DomainName>b.s3.amazonaws.com</DomainName><S3OriginConfig/></Origin>"
                    .into(),
                "S3",
            ),
            (
                origin_with("o", "api.example.com", "https-only", None),
                "api.example.com",
            ),
            (
                origin_with("o", "d1.cloudfront.net", "https-only", None),
                "d1.cloudfront.net",
            ),
        ];
        for (origin, expected) in cases {
            let before = document(&[origin]);
            let err =
                set_header(&before, &views(&before), HEADER, "new", &ids(&["o"]), &api_hosts).unwrap_err();
            assert!(
                matches!(&err, EditError::Target(TargetError::Refused { origin, problem })
                    if origin == "o" && problem.contains(expected)),
                "{expected}: {err:?}"
            );
        }
        let upper = document(&[origin_with(
            "o",
            "ABC1234567.execute-api.us-east-1.amazonaws.com",
            "https-only",
            None,
        )]);
        assert!(set_header(&upper, &views(&upper), HEADER, "new", &ids(&["o"]), &api_hosts).is_ok());
    }

    #[test]
    fn a_document_the_sdk_reads_differently_is_not_edited() {
        let before = document(&[origin("api", Some(&[(HEADER, "old")]))]);
        let hosts = ids(&["api.example"]);
        let listed = ids(&["api"]);
        let sdk = vec![OriginView {
            sent: Some(Sensitive::new("other".into())),
            ..views(&before)[0].clone()
        }];
        let err = set_header(&before, &sdk, HEADER, "new", &listed, &hosts).unwrap_err();
        assert!(matches!(err, EditError::Document(_)), "{err:?}");
        let sdk_elsewhere = vec![OriginView {
            domain: "elsewhere.example".into(),
            ..views(&before)[0].clone()
        }];
        assert!(set_header(&before, &sdk_elsewhere, HEADER, "new", &listed, &hosts).is_err());
        let sdk_more = [views(&before), views(&before)].concat();
        assert!(set_header(&before, &sdk_more, HEADER, "new", &listed, &hosts).is_err());
    }

    #[test]
    fn documents_that_are_not_a_distribution_config_are_refused_without_quoting_them() {
        for bad in [
            "<Distribution><Origins/></Distribution>".to_owned(),
            "<DistributionConfig><Origins><Items><Origin><DomainName>secret</DomainName></Origin></Items></Origins></DistributionConfig>".to_owned(),
            document(&[origin("api", Some(&[(HEADER, "secret")]))]).replace("</Origins>", ""),
        ] {
            let err = set_header(&bad, &[], HEADER, "new", &ids(&["api"]), &[]).unwrap_err();
            assert!(
                matches!(&err, EditError::Document(p) if !p.contains("secret")),
                "{err:?}"
            );
        }
    }
}
