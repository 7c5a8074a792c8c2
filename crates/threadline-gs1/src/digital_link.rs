//! GS1 Digital Link URIs: `https://{domain}[/{stem}]/{key AI}/{key}[/{qualifier AI}/{value}…]
//! [?{attribute AI}={value}&…]`.
//!
//! Why this module exists: Digital Link is how a consumer-facing QR code carries the same GS1
//! keys as a DataMatrix element string, and EPCIS 2.0 uses it as the preferred identifier form
//! in events (`https://id.gs1.org/01/…/21/…`). Threadline must read one from any domain (brand
//! resolvers, stems such as `/products`), enforce the path rules (one primary key, its
//! qualifiers in the prescribed order, no qualifier in the query string), and print the
//! canonical form — `https://id.gs1.org` unless told otherwise — with a single, predictable
//! percent-encoding so that two spellings of one identifier compare equal after normalisation.
//!
//! Encoding choices: produced URIs leave only RFC 3986 unreserved characters (`A-Z a-z 0-9 - .
//! _ ~`) unescaped, in paths and in query values alike (`98"` → `98%22`, `+` → `%2B`). On input,
//! any `%XX` is decoded; a `+` in a query value is taken literally, because a space can never be
//! part of a GS1 value while `+` can. Non-AI query parameters are kept aside and never printed in
//! the canonical form; a `#fragment` is ignored.

use std::fmt;

use threadline_domain::error::FieldError;

use crate::ParseOptions;
use crate::ai;
use crate::element::{Element, ElementString, unknown_ai};
use crate::uri;

/// The canonical Digital Link domain.
pub const CANONICAL_BASE: &str = "https://id.gs1.org";

/// A parsed, validated GS1 Digital Link URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DigitalLink {
    base: String,
    elements: ElementString,
    path_len: usize,
    extra_params: Vec<(String, String)>,
}

fn not_dl(uri: &str, why: &str) -> FieldError {
    FieldError::new(
        "not_a_digital_link",
        format!(
            "`{}` is not a GS1 Digital Link URI: {why}",
            uri.escape_debug()
        ),
    )
}

fn invalid(uri: &str, why: &str) -> FieldError {
    FieldError::new(
        "invalid_digital_link",
        format!("Digital Link `{}` is invalid: {why}", uri.escape_debug()),
    )
}

fn is_ai_like(s: &str) -> bool {
    (2..=4).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Splits `scheme://host[/stem]…` and checks scheme and host. Returns the length of
/// `scheme://host`.
fn scheme_and_host(uri: &str) -> Result<usize, FieldError> {
    let lower = uri
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let scheme_len = if lower.starts_with("https://") {
        8
    } else if lower.starts_with("http://") {
        7
    } else {
        return Err(not_dl(uri, "it must start with http:// or https://"));
    };
    let rest = &uri[scheme_len..];
    let host_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if host_len == 0 {
        return Err(invalid(uri, "the domain is missing"));
    }
    Ok(scheme_len + host_len)
}

/// Where the primary key starts: the key-value pairs run from the end of the path back to the
/// first segment that is not AI-shaped, and the primary key is the first of them that can be one.
/// Anything before it is the path stem.
fn find_primary_key(segments: &[&str]) -> Option<usize> {
    let mut start = segments.len();
    while start >= 2 && is_ai_like(segments[start - 2]) {
        start -= 2;
    }
    (start..segments.len())
        .step_by(2)
        .find(|&i| ai::lookup(segments[i]).is_some_and(ai::AiDef::is_dl_primary_key))
}

/// Whether `seq` contains `quals` in order (each at most once).
fn follows_sequence(quals: &[&str], seq: &[&str]) -> bool {
    let mut at = 0;
    for q in quals {
        match seq[at..].iter().position(|s| s == q) {
            Some(p) => at += p + 1,
            None => return false,
        }
    }
    true
}

impl DigitalLink {
    /// Parses a Digital Link URI with the default options (zero-suppressed GTINs refused,
    /// requisites checked).
    pub fn parse(uri: &str) -> Result<Self, FieldError> {
        Self::parse_with(uri, &ParseOptions::default())
    }

    /// Parses a Digital Link URI.
    pub fn parse_with(uri: &str, options: &ParseOptions) -> Result<Self, FieldError> {
        if let Some(c) = uri.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(FieldError::new(
                "invalid_character",
                format!(
                    "URI `{}` contains {}; URIs must be percent-encoded ASCII",
                    uri.escape_debug(),
                    c.escape_debug()
                ),
            ));
        }
        let without_fragment = uri.split('#').next().unwrap_or_default();
        let authority_end = scheme_and_host(without_fragment)?;
        let after = &without_fragment[authority_end..];
        let (path, query) = after.split_once('?').unwrap_or((after, ""));
        let mut segments: Vec<&str> = path.split('/').skip(1).collect();
        // A trailing slash is tolerated unless the empty segment is a (missing) value.
        let pk_index = match find_primary_key(&segments) {
            Some(i) => i,
            None if segments.len() > 1 && segments.last() == Some(&"") => {
                segments.pop();
                find_primary_key(&segments).ok_or_else(|| {
                    not_dl(uri, "its path has no GS1 primary key such as /01/{gtin}")
                })?
            }
            None => {
                return Err(not_dl(
                    uri,
                    "its path has no GS1 primary key such as /01/{gtin}",
                ));
            }
        };
        let stem = &segments[..pk_index];
        if stem.iter().any(|s| s.is_empty()) {
            return Err(invalid(uri, "the path has an empty segment"));
        }
        let base = if stem.is_empty() {
            without_fragment[..authority_end].to_owned()
        } else {
            format!("{}/{}", &without_fragment[..authority_end], stem.join("/"))
        };

        let decode = |s: &str| uri::decode(s, uri, "invalid_digital_link");
        let pk_ai = segments[pk_index];
        let pk_def = ai::lookup(pk_ai).ok_or_else(|| unknown_ai(pk_ai))?;
        let mut pk_value = decode(segments[pk_index + 1])?;
        if pk_ai == "01"
            && matches!(pk_value.len(), 8 | 12 | 13)
            && pk_value.bytes().all(|b| b.is_ascii_digit())
        {
            if !options.permit_zero_suppressed_gtin {
                return Err(FieldError::new(
                    "zero_suppressed_gtin",
                    format!(
                        "Digital Link `{uri}` carries GTIN `{pk_value}` without its leading zeros; \
                         GTINs in a Digital Link path must have 14 digits"
                    ),
                ));
            }
            pk_value = format!("{pk_value:0>14}");
        }
        let mut pairs: Vec<(String, String)> = vec![(pk_ai.to_owned(), pk_value)];
        let mut qualifiers: Vec<&str> = Vec::new();
        for pair in segments[pk_index + 2..].chunks(2) {
            let q = pair[0];
            if ai::lookup(q).is_none() {
                return Err(unknown_ai(q));
            }
            if !pk_def.has_dl_qualifier(q) {
                return Err(FieldError::new(
                    "invalid_qualifier",
                    format!(
                        "Digital Link `{uri}`: AI ({q}) is not a path qualifier of ({pk_ai}); \
                         data attributes go in the query string"
                    ),
                ));
            }
            qualifiers.push(q);
            pairs.push((q.to_owned(), decode(pair[1])?));
        }
        let sequences = pk_def.dl_qualifier_sequences();
        if !qualifiers.is_empty()
            && !sequences
                .iter()
                .any(|seq| follows_sequence(&qualifiers, seq))
        {
            let allowed: Vec<String> = sequences.iter().map(|s| s.join("/")).collect();
            return Err(FieldError::new(
                "invalid_qualifier_order",
                format!(
                    "Digital Link `{uri}`: qualifiers {} of ({pk_ai}) must follow the order {}",
                    qualifiers.join("/"),
                    allowed.join(" or ")
                ),
            ));
        }
        let path_len = pairs.len();

        let mut extra_params = Vec::new();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = param.split_once('=').unwrap_or((param, ""));
            let key = decode(k)?;
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_digit()) {
                extra_params.push((key, decode(v)?));
                continue;
            }
            let def = ai::lookup(&key).ok_or_else(|| unknown_ai(&key))?;
            if key == pk_ai || pk_def.has_dl_qualifier(&key) {
                return Err(FieldError::new(
                    "qualifier_in_query",
                    format!(
                        "Digital Link `{uri}`: AI ({key}) belongs in the path after ({pk_ai}), \
                         not in the query string"
                    ),
                ));
            }
            if !def.is_dl_attribute() {
                return Err(FieldError::new(
                    "not_a_data_attribute",
                    format!(
                        "Digital Link `{uri}`: AI ({key}) {} may not be a query attribute",
                        def.title()
                    ),
                ));
            }
            if pairs.iter().any(|(a, _)| *a == key) {
                return Err(FieldError::new(
                    "duplicate_ai",
                    format!("Digital Link `{uri}` gives AI ({key}) more than once"),
                ));
            }
            let value = decode(v)?;
            pairs.push((key, value));
        }
        let elements = ElementString::from_pairs_with(pairs, options)?;
        Ok(Self {
            base,
            elements,
            path_len,
            extra_params,
        })
    }

    /// Builds the Digital Link of an element string on the canonical domain: the first AI that
    /// can be a primary key (and with which every other AI fits) goes first, then its qualifiers
    /// in the prescribed order, then every other AI as a query attribute (in element string
    /// order). Fails with `not_representable` if there is no primary key, or an AI can be
    /// neither qualifier nor attribute.
    pub fn from_element_string(es: &ElementString) -> Result<Self, FieldError> {
        let mut first_error = None;
        for pk in es.iter().filter(|e| e.def().is_dl_primary_key()) {
            match Self::with_primary_key(es, pk) {
                Ok(dl) => return Ok(dl),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| {
            FieldError::new(
                "not_representable",
                format!("`{es}` has no AI that can be a Digital Link primary key"),
            )
        }))
    }

    fn with_primary_key(es: &ElementString, pk: &Element) -> Result<Self, FieldError> {
        let pk_def = pk.def();
        let present: Vec<&str> = es
            .iter()
            .filter(|e| e.ai() != pk.ai() && pk_def.has_dl_qualifier(e.ai()))
            .map(Element::ai)
            .collect();
        let mut ordered: Vec<Element> = vec![pk.clone()];
        if !present.is_empty() {
            let seq = pk_def
                .dl_qualifier_sequences()
                .into_iter()
                .find(|seq| present.iter().all(|q| seq.contains(q)))
                .ok_or_else(|| {
                    FieldError::new(
                        "not_representable",
                        format!(
                            "`{es}`: AIs {} cannot qualify ({}) together",
                            present.join(", "),
                            pk.ai()
                        ),
                    )
                })?;
            for q in seq {
                if let Some(e) = es.iter().find(|e| e.ai() == q) {
                    ordered.push(e.clone());
                }
            }
        }
        let path_len = ordered.len();
        for e in es
            .iter()
            .filter(|e| e.ai() != pk.ai() && !present.contains(&e.ai()))
        {
            if !e.def().is_dl_attribute() {
                return Err(FieldError::new(
                    "not_representable",
                    format!(
                        "`{es}`: AI ({}) {} can be neither a qualifier of ({}) nor a Digital Link attribute",
                        e.ai(),
                        e.def().title(),
                        pk.ai()
                    ),
                ));
            }
            ordered.push(e.clone());
        }
        Ok(Self {
            base: CANONICAL_BASE.to_owned(),
            elements: ElementString::from_validated(ordered),
            path_len,
            extra_params: Vec::new(),
        })
    }

    /// A link whose elements are all path elements, already in path order (a primary key and
    /// its qualifiers). Used for EPC conversion, whose schemes guarantee that shape.
    pub(crate) fn from_path_elements(elements: ElementString) -> Self {
        let path_len = elements.len();
        Self {
            base: CANONICAL_BASE.to_owned(),
            elements,
            path_len,
            extra_params: Vec::new(),
        }
    }

    /// The same identifier on another domain (and optional path stem), e.g.
    /// `https://brand.example.com/products`.
    pub fn with_base(mut self, base: &str) -> Result<Self, FieldError> {
        let base = base.trim_end_matches('/');
        let host_end = scheme_and_host(base)?;
        let path = &base[host_end..];
        let bad_char = !base.bytes().all(|b| b.is_ascii_graphic());
        if bad_char || path.contains(['?', '#']) || path.split('/').skip(1).any(str::is_empty) {
            return Err(invalid(
                base,
                "a base must be scheme, domain and an optional path stem",
            ));
        }
        self.base = base.to_owned();
        Ok(self)
    }

    /// The domain and stem this link was parsed from or set with [`DigitalLink::with_base`].
    pub fn base(&self) -> &str {
        &self.base
    }
    /// The primary key, e.g. `(01) 09521234543213`.
    pub fn primary_key(&self) -> &Element {
        &self.elements.elements()[0]
    }
    /// The path qualifiers after the primary key, in path order.
    pub fn qualifiers(&self) -> &[Element] {
        &self.elements.elements()[1..self.path_len]
    }
    /// The query-string data attributes, in query order.
    pub fn attributes(&self) -> &[Element] {
        &self.elements.elements()[self.path_len..]
    }
    /// All GS1 data: path elements first, then attributes.
    pub fn element_string(&self) -> &ElementString {
        &self.elements
    }
    pub fn into_element_string(self) -> ElementString {
        self.elements
    }
    /// Query parameters that are not AIs (decoded); ignored by GS1 and never printed.
    pub fn extra_params(&self) -> &[(String, String)] {
        &self.extra_params
    }

    fn render(&self, base: &str, with_attributes: bool) -> String {
        let mut out = base.to_owned();
        for e in &self.elements.elements()[..self.path_len] {
            out.push('/');
            out.push_str(e.ai());
            out.push('/');
            out.push_str(&uri::encode(e.value(), uri::is_unreserved));
        }
        if with_attributes {
            for (i, e) in self.attributes().iter().enumerate() {
                out.push(if i == 0 { '?' } else { '&' });
                out.push_str(e.ai());
                out.push('=');
                out.push_str(&uri::encode(e.value(), uri::is_unreserved));
            }
        }
        out
    }

    /// The URI on this link's base, with attributes in the query string.
    pub fn to_uri(&self) -> String {
        self.render(&self.base, true)
    }

    /// The URI on `https://id.gs1.org`, without path stem, with attributes.
    pub fn to_canonical_uri(&self) -> String {
        self.render(CANONICAL_BASE, true)
    }

    /// The constrained form EPCIS event hashing uses: canonical domain, no query string, and
    /// only the finest identification level (`/01/{gtin}/21/{serial}` rather than
    /// `/01/{gtin}/22/{cpv}/10/{lot}/21/{serial}`; `/414/{gln}/254/{ext}`; `/8010/…/8011/…`).
    pub fn to_constrained_uri(&self) -> String {
        let pk = self.primary_key();
        let finest: &[&str] = match pk.ai() {
            "01" => &["21", "235", "10"],
            "8006" => &["21", "10"],
            "414" => &["254"],
            "8010" => &["8011"],
            _ => &[],
        };
        let mut out = format!(
            "{CANONICAL_BASE}/{}/{}",
            pk.ai(),
            uri::encode(pk.value(), uri::is_unreserved)
        );
        if let Some(q) = finest
            .iter()
            .find_map(|ai| self.qualifiers().iter().find(|q| q.ai() == *ai))
        {
            out.push_str(&format!(
                "/{}/{}",
                q.ai(),
                uri::encode(q.value(), uri::is_unreserved)
            ));
        }
        out
    }
}

impl fmt::Display for DigitalLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<DigitalLink, FieldError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn generation_example() {
        let es = ElementString::parse_bracketed("(01)12312312312326(22)ABC(10)DEF(21)GHI(95)INT")
            .unwrap();
        let dl = DigitalLink::from_element_string(&es)
            .unwrap()
            .with_base("https://example.com")
            .unwrap();
        assert_eq!(
            dl.to_uri(),
            "https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI?95=INT"
        );
        assert_eq!(
            dl.to_canonical_uri(),
            "https://id.gs1.org/01/12312312312326/22/ABC/10/DEF/21/GHI?95=INT"
        );
        assert_eq!(
            dl.to_constrained_uri(),
            "https://id.gs1.org/01/12312312312326/21/GHI"
        );
        // Element string order does not matter for the path.
        let es =
            ElementString::parse_bracketed("(01)12312312312326(21)GHI(17)270131(10)DEF").unwrap();
        assert_eq!(
            DigitalLink::from_element_string(&es).unwrap().to_uri(),
            "https://id.gs1.org/01/12312312312326/10/DEF/21/GHI?17=270131"
        );
    }

    #[test]
    fn parse_any_domain_with_stem() {
        let dl = DigitalLink::parse("https://brand.example.com/some/stem/01/09521234543213/10/L%2F1/21/98%22?17=270131&3103=001250&linkType=gs1:pip#top").unwrap();
        assert_eq!(dl.base(), "https://brand.example.com/some/stem");
        assert_eq!(dl.primary_key().value(), "09521234543213");
        assert_eq!(
            dl.qualifiers().iter().map(Element::ai).collect::<Vec<_>>(),
            ["10", "21"]
        );
        assert_eq!(dl.element_string().lot(), Some("L/1"));
        assert_eq!(dl.element_string().serial(), Some("98\""));
        assert_eq!(dl.attributes().len(), 2);
        assert_eq!(
            dl.extra_params(),
            [("linkType".to_owned(), "gs1:pip".to_owned())]
        );
        assert_eq!(
            dl.to_canonical_uri(),
            "https://id.gs1.org/01/09521234543213/10/L%2F1/21/98%22?17=270131&3103=001250"
        );
        assert_eq!(
            dl.to_uri(),
            "https://brand.example.com/some/stem/01/09521234543213/10/L%2F1/21/98%22?17=270131&3103=001250"
        );
        // A stem that itself looks like AI pairs.
        let dl = DigitalLink::parse("https://x.example/10/abc/01/09521234543213").unwrap();
        assert_eq!(dl.base(), "https://x.example/10/abc");
        // Upper-case scheme and host (QR alphanumeric mode), trailing slash.
        let dl = DigitalLink::parse("HTTPS://ID.GS1.ORG/01/09521234543213/21/ABC/").unwrap();
        assert_eq!(
            dl.to_canonical_uri(),
            "https://id.gs1.org/01/09521234543213/21/ABC"
        );
        // Other primary keys.
        let dl = DigitalLink::parse("https://id.gs1.org/414/4012345000009/254/1234").unwrap();
        assert_eq!(dl.element_string().gln_extension(), Some("1234"));
        let dl = DigitalLink::parse(
            "https://id.gs1.org/00/340123450000000017?02=04012345111118&37=20&10=L1",
        )
        .unwrap();
        assert_eq!(dl.element_string().count(), Some(20));
        assert!(DigitalLink::parse("https://id.gs1.org/8004/4012345ABC").is_ok());
        assert!(DigitalLink::parse("https://id.gs1.org/417/4012345000009").is_ok());
        assert!(DigitalLink::parse("https://id.gs1.org/8010/4012345AB%2F1/8011/12").is_ok());
    }

    #[test]
    fn invalid_links() {
        let p = DigitalLink::parse;
        assert_eq!(
            code(p("ftp://id.gs1.org/01/09521234543213")),
            "not_a_digital_link"
        );
        assert_eq!(
            code(p("https://example.com/products/123")),
            "not_a_digital_link"
        );
        assert_eq!(code(p("https://example.com/")), "not_a_digital_link");
        assert_eq!(
            code(p("https:///01/09521234543213")),
            "invalid_digital_link"
        );
        assert_eq!(
            code(p("https://a/gtin/09521234543213")),
            "not_a_digital_link"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788?10=ABC123")),
            "qualifier_in_query"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788?21=ABC123")),
            "qualifier_in_query"
        );
        assert_eq!(
            code(p("https://example.com/00/340123450000000017?254=1")),
            "not_a_data_attribute"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/21/12345/10/4512")),
            "invalid_qualifier_order"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/10/1/235/5")),
            "invalid_qualifier_order"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/17/270101")),
            "invalid_qualifier"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/9999/1")),
            "unknown_ai"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788?9999=1")),
            "unknown_ai"
        );
        assert_eq!(
            code(p(
                "https://example.com/01/09520123456788?17=270101&17=270101"
            )),
            "duplicate_ai"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788?17=271301")),
            "invalid_date"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456789")),
            "invalid_check_digit"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/21/A%2")),
            "invalid_digital_link"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/21/A%20B")),
            "invalid_character"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/21/A B")),
            "invalid_character"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/21/%23")),
            "invalid_character"
        );
        assert_eq!(
            code(p("https://example.com/01/09520123456788/21/")),
            "invalid_length"
        );
        assert_eq!(
            code(p(
                "https://example.com/01/09520123456788?3103=000001&3102=000001"
            )),
            "mutually_exclusive_ais"
        );
        assert_eq!(
            code(p("https://example.com/x//01/09520123456788")),
            "invalid_digital_link"
        );
    }

    #[test]
    fn zero_suppressed_gtins() {
        for gtin in ["02345680", "416000336108", "2112233789657"] {
            let uri = format!("https://id.gs1.org/01/{gtin}");
            assert_eq!(code(DigitalLink::parse(&uri)), "zero_suppressed_gtin");
            let opts = ParseOptions::default().with_zero_suppressed_gtin(true);
            let dl = DigitalLink::parse_with(&uri, &opts).unwrap();
            assert_eq!(dl.primary_key().value(), format!("{gtin:0>14}"));
            assert_eq!(dl.to_uri(), format!("https://id.gs1.org/01/{gtin:0>14}"));
        }
    }

    #[test]
    fn not_representable() {
        let es = ElementString::parse_bracketed_with(
            "(10)ABC",
            &ParseOptions::default().with_requisites(false),
        )
        .unwrap();
        assert_eq!(
            code(DigitalLink::from_element_string(&es)),
            "not_representable"
        );
        let es = ElementString::parse_bracketed("(414)4012345000009(254)A(8200)x").unwrap_err();
        assert_eq!(es.code, "missing_required_ai");
        let es = ElementString::parse_bracketed("(01)09521234543213(8200)HTTP").unwrap();
        assert_eq!(
            code(DigitalLink::from_element_string(&es)),
            "not_representable"
        );
        assert_eq!(
            code(
                DigitalLink::from_element_string(
                    &ElementString::parse_bracketed("(01)09521234543213").unwrap()
                )
                .unwrap()
                .with_base("ftp://x")
            ),
            "not_a_digital_link"
        );
        assert_eq!(
            code(
                DigitalLink::from_element_string(
                    &ElementString::parse_bracketed("(01)09521234543213").unwrap()
                )
                .unwrap()
                .with_base("https://x/a?b")
            ),
            "invalid_digital_link"
        );
    }
}
