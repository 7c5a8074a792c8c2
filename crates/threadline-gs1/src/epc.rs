//! EPC pure-identity URNs (GS1 Tag Data Standard): `urn:epc:id:sgtin:4012345.011111.98%22`,
//! `urn:epc:class:lgtin:…`, `urn:epc:idpat:sgtin:….*`, `urn:epc:id:sscc:…`, `sgln`, `pgln`,
//! `grai`, `giai`, `gdti`, `gsrn`, `gsrnp`, `sgcn`, `ginc`, `gsin`, `cpi`.
//!
//! Why this module exists: EPCIS 1.x systems, RFID middleware and many EPCIS 2.0 documents name
//! objects by URN, while labels and Digital Link name them by GS1 keys. Threadline stores keys,
//! so it must turn any URN into keys (no lookup needed: the dot after the GS1 Company Prefix
//! says where it ends) and print URNs for partners that want them (which needs the Company
//! Prefix length, because a GTIN does not say where its prefix ends). RFID tag URIs
//! (`urn:epc:tag:sgtin-96:3.…`) are accepted too: the filter value is dropped.
//!
//! Escaping: URN serials and other alphanumeric parts use GS1 CSET 82, where `"` `%` `&` `/`
//! `<` `>` `?` must be written `%22 %25 %26 %2F %3C %3E %3F`; no other escape is allowed. CPI part
//! references use CSET 39 and escape `#` and `/` as `%23`, `%2F`.
//!
//! An SGLN extension of `0` means "no extension", so a GLN extension (254) of exactly `0` does
//! not survive a round trip through a URN.

use std::fmt;

use threadline_domain::error::FieldError;

use crate::digital_link::DigitalLink;
use crate::element::ElementString;
use crate::keys::{Gln, Sscc, gtin_from_payload};
use threadline_domain::gs1::mod10_check_digit;

/// The EPC schemes this crate converts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EpcScheme {
    /// `urn:epc:id:sgtin:` — GTIN + serial (01 + 21).
    Sgtin,
    /// `urn:epc:class:lgtin:` — GTIN + lot (01 + 10), a class.
    Lgtin,
    /// `urn:epc:idpat:sgtin:GCP.Item.*` — every serial of a GTIN (01).
    SgtinPattern,
    /// `urn:epc:id:sscc:` (00).
    Sscc,
    /// `urn:epc:id:sgln:` (414 + optional 254).
    Sgln,
    /// `urn:epc:id:pgln:` (417).
    Pgln,
    /// `urn:epc:id:grai:` (8003 with serial).
    Grai,
    /// `urn:epc:id:giai:` (8004).
    Giai,
    /// `urn:epc:id:gdti:` (253 with serial).
    Gdti,
    /// `urn:epc:id:gsrn:` (8018, recipient).
    Gsrn,
    /// `urn:epc:id:gsrnp:` (8017, provider).
    Gsrnp,
    /// `urn:epc:id:sgcn:` (255 with serial).
    Sgcn,
    /// `urn:epc:id:ginc:` (401).
    Ginc,
    /// `urn:epc:id:gsin:` (402).
    Gsin,
    /// `urn:epc:id:cpi:` (8010 + 8011).
    Cpi,
}

impl EpcScheme {
    /// The URN prefix, e.g. `urn:epc:id:sgtin:`.
    pub fn prefix(self) -> &'static str {
        match self {
            EpcScheme::Sgtin => "urn:epc:id:sgtin:",
            EpcScheme::Lgtin => "urn:epc:class:lgtin:",
            EpcScheme::SgtinPattern => "urn:epc:idpat:sgtin:",
            EpcScheme::Sscc => "urn:epc:id:sscc:",
            EpcScheme::Sgln => "urn:epc:id:sgln:",
            EpcScheme::Pgln => "urn:epc:id:pgln:",
            EpcScheme::Grai => "urn:epc:id:grai:",
            EpcScheme::Giai => "urn:epc:id:giai:",
            EpcScheme::Gdti => "urn:epc:id:gdti:",
            EpcScheme::Gsrn => "urn:epc:id:gsrn:",
            EpcScheme::Gsrnp => "urn:epc:id:gsrnp:",
            EpcScheme::Sgcn => "urn:epc:id:sgcn:",
            EpcScheme::Ginc => "urn:epc:id:ginc:",
            EpcScheme::Gsin => "urn:epc:id:gsin:",
            EpcScheme::Cpi => "urn:epc:id:cpi:",
        }
    }

    fn from_id_name(name: &str) -> Option<Self> {
        Some(match name {
            "sgtin" => EpcScheme::Sgtin,
            "sscc" => EpcScheme::Sscc,
            "sgln" => EpcScheme::Sgln,
            "pgln" => EpcScheme::Pgln,
            "grai" => EpcScheme::Grai,
            "giai" => EpcScheme::Giai,
            "gdti" => EpcScheme::Gdti,
            "gsrn" => EpcScheme::Gsrn,
            "gsrnp" => EpcScheme::Gsrnp,
            "sgcn" => EpcScheme::Sgcn,
            "ginc" => EpcScheme::Ginc,
            "gsin" => EpcScheme::Gsin,
            "cpi" => EpcScheme::Cpi,
            _ => return None,
        })
    }
}

/// A parsed EPC URN: its scheme, the GS1 Company Prefix length it was written with, and the GS1
/// keys it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EpcUrn {
    scheme: EpcScheme,
    gcp_len: usize,
    elements: ElementString,
}

fn bad(urn: &str, why: &str) -> FieldError {
    FieldError::new(
        "invalid_epc_urn",
        format!("EPC URN `{}` is invalid: {why}", urn.escape_debug()),
    )
}

fn unsupported(what: &str, why: &str) -> FieldError {
    FieldError::new(
        "unsupported_epc",
        format!("`{}`: {why}", what.escape_debug()),
    )
}

fn gcp_error(gcp_len: usize, why: &str) -> FieldError {
    FieldError::new(
        "invalid_company_prefix",
        format!("GS1 Company Prefix length {gcp_len} does not fit: {why}"),
    )
}

const URN_ESCAPED: &[u8] = b"\"%&/<>?";

/// Escapes a CSET 82 value for an EPC URN.
fn escape82(value: &str) -> String {
    crate::uri::encode(value, |b| !URN_ESCAPED.contains(&b))
}

/// Escapes a CSET 39 CPI part reference for an EPC URN.
fn escape39(value: &str) -> String {
    crate::uri::encode(value, |b| b != b'#' && b != b'/')
}

/// Undoes URN escaping, refusing characters that must be escaped and escapes that are not
/// allowed. `allowed_escapes` are the characters that may (and must) appear escaped.
fn unescape(
    urn: &str,
    part: &str,
    allowed_escapes: &[u8],
    raw_ok: impl Fn(u8) -> bool,
) -> Result<String, FieldError> {
    let b = part.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let decoded = part
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(|c| {
                    allowed_escapes.contains(c)
                        && part.as_bytes()[i + 1..i + 3]
                            .iter()
                            .all(u8::is_ascii_hexdigit)
                });
            let Some(c) = decoded else {
                return Err(bad(
                    urn,
                    &format!(
                        "`{}` is not an allowed %-escape here",
                        part.get(i..).unwrap_or("")
                    ),
                ));
            };
            out.push(char::from(c));
            i += 3;
        } else if raw_ok(b[i]) {
            out.push(char::from(b[i]));
            i += 1;
        } else {
            return Err(bad(
                urn,
                &format!(
                    "`{}` must be %-escaped or is not allowed",
                    char::from(b[i]).escape_debug()
                ),
            ));
        }
    }
    Ok(out)
}

fn unescape82(urn: &str, part: &str) -> Result<String, FieldError> {
    unescape(urn, part, URN_ESCAPED, |b| {
        crate::ai::is_cset82(b) && !URN_ESCAPED.contains(&b)
    })
}

fn unescape39(urn: &str, part: &str) -> Result<String, FieldError> {
    unescape(urn, part, b"#/", |b| {
        b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-'
    })
}

fn digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn check_digit(payload: &str) -> u8 {
    mod10_check_digit(payload).unwrap_or(0)
}

impl EpcUrn {
    /// Parses a pure-identity URN, an LGTIN class URN, an SGTIN `.*` pattern or an EPC tag URI.
    pub fn parse(urn: &str) -> Result<Self, FieldError> {
        let split: Vec<&str> = urn.splitn(5, ':').collect();
        let [urn_nid, epc_nid, kind, name, body] = split.as_slice() else {
            return Err(bad(urn, "it must look like urn:epc:id:{scheme}:{parts}"));
        };
        let lowered: Vec<String> = [urn_nid, epc_nid, kind, name]
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        let parts: Vec<&str> = lowered.iter().map(String::as_str).collect();
        if parts[..2] != ["urn", "epc"] {
            return Err(bad(urn, "it must start with urn:epc:"));
        }
        let body = *body;
        let (scheme, body) = match parts.as_slice() {
            ["urn", "epc", "id", name] => {
                let scheme = EpcScheme::from_id_name(name).ok_or_else(|| {
                    unsupported(urn, "this EPC scheme has no GS1 key conversion here")
                })?;
                (scheme, body)
            }
            ["urn", "epc", "class", "lgtin"] => (EpcScheme::Lgtin, body),
            ["urn", "epc", "idpat", "sgtin"] => (EpcScheme::SgtinPattern, body),
            ["urn", "epc", "tag", tag] => {
                let name = tag.split('-').next().unwrap_or_default();
                let scheme = EpcScheme::from_id_name(name).ok_or_else(|| {
                    unsupported(urn, "this EPC tag scheme has no GS1 key conversion here")
                })?;
                let (filter, rest) = body
                    .split_once('.')
                    .ok_or_else(|| bad(urn, "the filter value is missing"))?;
                if filter.is_empty() || !digits(filter) {
                    return Err(bad(urn, "the filter value must be a digit"));
                }
                (scheme, rest)
            }
            _ => {
                return Err(unsupported(
                    urn,
                    "only urn:epc:id:, urn:epc:class:lgtin:, urn:epc:idpat:sgtin: and urn:epc:tag: URNs are converted",
                ));
            }
        };
        Self::parse_body(urn, scheme, body)
    }

    fn parse_body(urn: &str, scheme: EpcScheme, body: &str) -> Result<Self, FieldError> {
        let fields = match scheme {
            EpcScheme::Sgtin | EpcScheme::Lgtin | EpcScheme::SgtinPattern | EpcScheme::Sgln => 3,
            EpcScheme::Grai | EpcScheme::Gdti | EpcScheme::Sgcn | EpcScheme::Cpi => 3,
            _ => 2,
        };
        let f: Vec<&str> = body.splitn(fields, '.').collect();
        if f.len() != fields {
            return Err(bad(
                urn,
                &format!("it must have {fields} dot-separated parts after the scheme"),
            ));
        }
        let gcp = f[0];
        if !(6..=12).contains(&gcp.len()) || !digits(gcp) {
            return Err(bad(urn, "the GS1 Company Prefix must be 6 to 12 digits"));
        }
        let numeric = |part: &str, total: usize, what: &str| -> Result<(), FieldError> {
            if !digits(part) || gcp.len() + part.len() != total {
                return Err(bad(
                    urn,
                    &format!(
                        "the {what} must be digits and make {total} digits with the company prefix"
                    ),
                ));
            }
            Ok(())
        };
        let mut pairs: Vec<(&str, String)> = Vec::new();
        match scheme {
            EpcScheme::Sgtin | EpcScheme::Lgtin | EpcScheme::SgtinPattern => {
                numeric(f[1], 13, "indicator and item reference")?;
                let item = f[1];
                if item.is_empty() {
                    return Err(bad(urn, "the indicator digit is missing"));
                }
                let gtin = gtin_from_payload(&format!("{}{gcp}{}", &item[..1], &item[1..]))?;
                pairs.push(("01", gtin.as_str().to_owned()));
                match scheme {
                    EpcScheme::Sgtin => pairs.push(("21", unescape82(urn, f[2])?)),
                    EpcScheme::Lgtin => pairs.push(("10", unescape82(urn, f[2])?)),
                    _ if f[2] == "*" => {}
                    _ => {
                        return Err(unsupported(
                            urn,
                            "only `GCP.ItemRef.*` SGTIN patterns are converted",
                        ));
                    }
                }
            }
            EpcScheme::Sscc => {
                numeric(f[1], 17, "extension digit and serial reference")?;
                let payload = format!("{}{gcp}{}", &f[1][..1], &f[1][1..]);
                pairs.push(("00", Sscc::from_payload(&payload)?.as_str().to_owned()));
            }
            EpcScheme::Sgln | EpcScheme::Pgln => {
                numeric(f[1], 12, "location reference")?;
                let gln = Gln::from_payload(&format!("{gcp}{}", f[1]))?;
                if scheme == EpcScheme::Sgln {
                    pairs.push(("414", gln.as_str().to_owned()));
                    let ext = unescape82(urn, f[2])?;
                    if ext != "0" {
                        pairs.push(("254", ext));
                    }
                } else {
                    pairs.push(("417", gln.as_str().to_owned()));
                }
            }
            EpcScheme::Grai | EpcScheme::Gdti | EpcScheme::Sgcn => {
                numeric(f[1], 12, "type reference")?;
                let key = format!("{gcp}{}", f[1]);
                let serial = if scheme == EpcScheme::Sgcn {
                    f[2].to_owned()
                } else {
                    unescape82(urn, f[2])?
                };
                if serial.is_empty() {
                    return Err(bad(urn, "the serial part is missing"));
                }
                let cd = check_digit(&key);
                let (ai, value) = match scheme {
                    EpcScheme::Grai => ("8003", format!("0{key}{cd}{serial}")),
                    EpcScheme::Gdti => ("253", format!("{key}{cd}{serial}")),
                    _ => ("255", format!("{key}{cd}{serial}")),
                };
                pairs.push((ai, value));
            }
            EpcScheme::Gsrn | EpcScheme::Gsrnp => {
                numeric(f[1], 17, "service reference")?;
                let key = format!("{gcp}{}", f[1]);
                let ai = if scheme == EpcScheme::Gsrn {
                    "8018"
                } else {
                    "8017"
                };
                pairs.push((ai, format!("{key}{}", check_digit(&key))));
            }
            EpcScheme::Gsin => {
                numeric(f[1], 16, "shipper reference")?;
                let key = format!("{gcp}{}", f[1]);
                pairs.push(("402", format!("{key}{}", check_digit(&key))));
            }
            EpcScheme::Giai | EpcScheme::Ginc => {
                let reference = unescape82(urn, f[1])?;
                if reference.is_empty() {
                    return Err(bad(
                        urn,
                        "the reference after the company prefix is missing",
                    ));
                }
                let ai = if scheme == EpcScheme::Giai {
                    "8004"
                } else {
                    "401"
                };
                pairs.push((ai, format!("{gcp}{reference}")));
            }
            EpcScheme::Cpi => {
                let part = unescape39(urn, f[1])?;
                pairs.push(("8010", format!("{gcp}{part}")));
                pairs.push(("8011", f[2].to_owned()));
            }
        }
        let elements = ElementString::from_pairs(pairs).map_err(|e| {
            FieldError::new(
                e.code,
                format!("EPC URN `{}`: {}", urn.escape_debug(), e.message),
            )
        })?;
        Ok(Self {
            scheme,
            gcp_len: gcp.len(),
            elements,
        })
    }

    /// The URN for the GS1 keys in `es`, given the length of the GS1 Company Prefix inside them
    /// (6 to 12; it cannot be derived from the key itself). The scheme is chosen from the first
    /// key AI in `es`: (01) with (21) → SGTIN, (01) with (10) → LGTIN, (01) alone → SGTIN
    /// pattern, (00) → SSCC, (414)[(254)] → SGLN, (417) → PGLN, (8003) → GRAI, (8004) → GIAI,
    /// (253) → GDTI, (8018)/(8017) → GSRN/GSRNP, (255) → SGCN, (401) → GINC, (402) → GSIN,
    /// (8010)+(8011) → CPI. Other AIs (dates, attributes) are not part of an EPC and are dropped.
    pub fn from_element_string(es: &ElementString, gcp_len: usize) -> Result<Self, FieldError> {
        if !(6..=12).contains(&gcp_len) {
            return Err(gcp_error(
                gcp_len,
                "a GS1 Company Prefix has 6 to 12 digits",
            ));
        }
        let key_ais = [
            "01", "00", "414", "417", "8003", "8004", "253", "8018", "8017", "255", "401", "402",
            "8010",
        ];
        let Some(key) = es.iter().find(|e| key_ais.contains(&e.ai())) else {
            return Err(unsupported(
                &es.to_string(),
                "holds no GS1 key that an EPC URN can express",
            ));
        };
        let v = key.value();
        let mut pairs: Vec<(&str, &str)> = vec![(key.ai(), v)];
        let scheme = match key.ai() {
            "01" => {
                if let Some(serial) = es.get("21") {
                    pairs.push(("21", serial));
                    EpcScheme::Sgtin
                } else if es.contains("235") {
                    return Err(unsupported(
                        &es.to_string(),
                        "GTIN + TPX (UPUI) is not converted",
                    ));
                } else if let Some(lot) = es.get("10") {
                    pairs.push(("10", lot));
                    EpcScheme::Lgtin
                } else {
                    EpcScheme::SgtinPattern
                }
            }
            "00" => EpcScheme::Sscc,
            "414" => {
                // Extension `0` is how a URN says "no extension".
                if let Some(ext) = es.get("254").filter(|x| *x != "0") {
                    pairs.push(("254", ext));
                }
                EpcScheme::Sgln
            }
            "417" => EpcScheme::Pgln,
            "8003" => {
                if v.len() <= 14 {
                    return Err(unsupported(
                        &es.to_string(),
                        "a GRAI without serial component is not an EPC",
                    ));
                }
                EpcScheme::Grai
            }
            "8004" => EpcScheme::Giai,
            "253" => {
                if v.len() <= 13 {
                    return Err(unsupported(
                        &es.to_string(),
                        "a GDTI without serial component is not an EPC",
                    ));
                }
                EpcScheme::Gdti
            }
            "8018" => EpcScheme::Gsrn,
            "8017" => EpcScheme::Gsrnp,
            "255" => {
                if v.len() <= 13 {
                    return Err(unsupported(
                        &es.to_string(),
                        "a GCN without serial component is not an EPC",
                    ));
                }
                EpcScheme::Sgcn
            }
            "401" => EpcScheme::Ginc,
            "402" => EpcScheme::Gsin,
            _ => {
                let serial = es.get("8011").ok_or_else(|| {
                    unsupported(
                        &es.to_string(),
                        "a CPID without CPID serial (8011) is not an EPC",
                    )
                })?;
                pairs.push(("8011", serial));
                EpcScheme::Cpi
            }
        };
        // Alphanumeric keys must at least be long enough and start with digits.
        if matches!(scheme, EpcScheme::Giai | EpcScheme::Ginc | EpcScheme::Cpi)
            && (v.len() <= gcp_len || !digits(&v[..gcp_len]))
        {
            return Err(gcp_error(
                gcp_len,
                &format!("`{v}` does not start with a company prefix that long"),
            ));
        }
        let elements = ElementString::from_pairs(pairs)?;
        Ok(Self {
            scheme,
            gcp_len,
            elements,
        })
    }

    /// The URN for a Digital Link's identifier (its query attributes are dropped).
    pub fn from_digital_link(dl: &DigitalLink, gcp_len: usize) -> Result<Self, FieldError> {
        Self::from_element_string(dl.element_string(), gcp_len)
    }

    /// The canonical Digital Link (`https://id.gs1.org/…`) of this EPC.
    pub fn to_digital_link(&self) -> DigitalLink {
        // Every scheme's elements are a Digital Link primary key followed by its qualifiers in
        // path order (01/21, 01/10, 414/254, 8010/8011, or a key alone).
        DigitalLink::from_path_elements(self.elements.clone())
    }

    pub fn scheme(&self) -> EpcScheme {
        self.scheme
    }
    /// Length of the GS1 Company Prefix this URN was written with.
    pub fn company_prefix_len(&self) -> usize {
        self.gcp_len
    }
    /// The GS1 keys this URN stands for.
    pub fn element_string(&self) -> &ElementString {
        &self.elements
    }

    /// The URN text.
    pub fn to_urn(&self) -> String {
        let l = self.gcp_len;
        let es = &self.elements;
        let key = es.elements()[0].value();
        let p = self.scheme.prefix();
        match self.scheme {
            EpcScheme::Sgtin | EpcScheme::Lgtin | EpcScheme::SgtinPattern => {
                let (ind, gcp, item) = (&key[..1], &key[1..=l], &key[l + 1..13]);
                let last = match self.scheme {
                    EpcScheme::Sgtin => escape82(es.get("21").unwrap_or_default()),
                    EpcScheme::Lgtin => escape82(es.get("10").unwrap_or_default()),
                    _ => "*".to_owned(),
                };
                format!("{p}{gcp}.{ind}{item}.{last}")
            }
            EpcScheme::Sscc => format!("{p}{}.{}{}", &key[1..=l], &key[..1], &key[l + 1..17]),
            EpcScheme::Sgln => {
                let ext = es.get("254").map_or_else(|| "0".to_owned(), escape82);
                format!("{p}{}.{}.{ext}", &key[..l], &key[l..12])
            }
            EpcScheme::Pgln => format!("{p}{}.{}", &key[..l], &key[l..12]),
            EpcScheme::Grai => format!(
                "{p}{}.{}.{}",
                &key[1..=l],
                &key[l + 1..13],
                escape82(&key[14..])
            ),
            EpcScheme::Gdti => format!("{p}{}.{}.{}", &key[..l], &key[l..12], escape82(&key[13..])),
            EpcScheme::Sgcn => format!("{p}{}.{}.{}", &key[..l], &key[l..12], &key[13..]),
            EpcScheme::Gsrn | EpcScheme::Gsrnp => format!("{p}{}.{}", &key[..l], &key[l..17]),
            EpcScheme::Gsin => format!("{p}{}.{}", &key[..l], &key[l..16]),
            EpcScheme::Giai | EpcScheme::Ginc => {
                format!("{p}{}.{}", &key[..l], escape82(&key[l..]))
            }
            EpcScheme::Cpi => format!(
                "{p}{}.{}.{}",
                &key[..l],
                escape39(&key[l..]),
                es.get("8011").unwrap_or_default()
            ),
        }
    }
}

impl fmt::Display for EpcUrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_urn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: fmt::Debug>(r: Result<T, FieldError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn published_sgtin_and_sscc_examples() {
        let urn = EpcUrn::parse("urn:epc:id:sgtin:4012345.011111.98%22").unwrap();
        assert_eq!(urn.scheme(), EpcScheme::Sgtin);
        assert_eq!(
            urn.element_string().gtin().unwrap().as_str(),
            "04012345111118"
        );
        assert_eq!(urn.element_string().serial(), Some("98\""));
        assert_eq!(
            urn.to_digital_link().to_uri(),
            "https://id.gs1.org/01/04012345111118/21/98%22"
        );
        assert_eq!(urn.to_urn(), "urn:epc:id:sgtin:4012345.011111.98%22");
        let dl = DigitalLink::parse("https://id.gs1.org/01/04012345111118/21/98%22").unwrap();
        assert_eq!(
            EpcUrn::from_digital_link(&dl, 7).unwrap().to_urn(),
            "urn:epc:id:sgtin:4012345.011111.98%22"
        );

        let urn = EpcUrn::parse("urn:epc:id:sscc:4012345.0000000011").unwrap();
        assert_eq!(
            urn.to_digital_link().to_uri(),
            "https://id.gs1.org/00/040123450000000115"
        );
        let dl = DigitalLink::parse("https://id.gs1.org/00/040123450000000115").unwrap();
        assert_eq!(
            EpcUrn::from_digital_link(&dl, 7).unwrap().to_urn(),
            "urn:epc:id:sscc:4012345.0000000011"
        );
    }

    #[test]
    fn every_scheme_round_trips() {
        let cases = [
            (
                "urn:epc:class:lgtin:4012345.011111.L2301",
                "https://id.gs1.org/01/04012345111118/10/L2301",
            ),
            (
                "urn:epc:idpat:sgtin:4012345.011111.*",
                "https://id.gs1.org/01/04012345111118",
            ),
            (
                "urn:epc:id:sgln:4012345.00000.0",
                "https://id.gs1.org/414/4012345000009",
            ),
            (
                "urn:epc:id:sgln:4012345.00000.12%2F3",
                "https://id.gs1.org/414/4012345000009/254/12%2F3",
            ),
            (
                "urn:epc:id:pgln:4012345.00000",
                "https://id.gs1.org/417/4012345000009",
            ),
            (
                "urn:epc:id:grai:4012345.00000.A1",
                "https://id.gs1.org/8003/04012345000009A1",
            ),
            (
                "urn:epc:id:giai:4012345.TOOL-7",
                "https://id.gs1.org/8004/4012345TOOL-7",
            ),
            (
                "urn:epc:id:gdti:4012345.00000.D1",
                "https://id.gs1.org/253/4012345000009D1",
            ),
            (
                "urn:epc:id:gsrn:4012345.0000000001",
                "https://id.gs1.org/8018/401234500000000012",
            ),
            (
                "urn:epc:id:gsrnp:4012345.0000000001",
                "https://id.gs1.org/8017/401234500000000012",
            ),
            (
                "urn:epc:id:sgcn:4012345.00000.123",
                "https://id.gs1.org/255/4012345000009123",
            ),
            (
                "urn:epc:id:ginc:4012345.C%2F9",
                "https://id.gs1.org/401/4012345C%2F9",
            ),
            (
                "urn:epc:id:gsin:4012345.000000001",
                "https://id.gs1.org/402/40123450000000016",
            ),
            (
                "urn:epc:id:cpi:4012345.AB%2FC%23-1.77",
                "https://id.gs1.org/8010/4012345AB%2FC%23-1/8011/77",
            ),
            (
                "urn:epc:id:sgtin:401234567890.1.A",
                "https://id.gs1.org/01/14012345678908/21/A",
            ),
        ];
        for (urn_text, dl_text) in cases {
            let urn = EpcUrn::parse(urn_text).unwrap_or_else(|e| panic!("{urn_text}: {e}"));
            assert_eq!(urn.to_urn(), urn_text);
            let dl = urn.to_digital_link();
            assert_eq!(dl.to_uri(), dl_text, "{urn_text}");
            let back = EpcUrn::from_digital_link(
                &DigitalLink::parse(dl_text).unwrap(),
                urn.company_prefix_len(),
            )
            .unwrap();
            assert_eq!(back, urn, "{dl_text}");
        }
    }

    #[test]
    fn tag_uris_and_case() {
        let urn = EpcUrn::parse("urn:epc:tag:sgtin-96:3.0614141.812345.6789").unwrap();
        assert_eq!(urn.to_urn(), "urn:epc:id:sgtin:0614141.812345.6789");
        let urn = EpcUrn::parse("URN:EPC:ID:SGTIN:0614141.812345.6789").unwrap();
        assert_eq!(
            urn.element_string().gtin().unwrap().as_str(),
            "80614141123458"
        );
    }

    #[test]
    fn invalid_urns() {
        let p = EpcUrn::parse;
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.01111.1")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:40123.0111111.1")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111.9\"8")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111.9%21")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111.9%2")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111.a b")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111.")),
            "invalid_length"
        );
        assert_eq!(
            code(p("urn:epc:id:sgtin:4012345.011111.123456789012345678901")),
            "invalid_length"
        );
        assert_eq!(code(p("urn:epc:id:gid:1.2.3")), "unsupported_epc");
        assert_eq!(
            code(p("urn:epc:idpat:sgtin:4012345.*.*")),
            "invalid_epc_urn"
        );
        assert_eq!(
            code(p("urn:epc:idpat:sgtin:4012345.011111.5")),
            "unsupported_epc"
        );
        assert_eq!(code(p("urn:epc:id:grai:4012345.00000.")), "invalid_epc_urn");
        assert_eq!(code(p("urn:epc:id:cpi:4012345.ab.1")), "invalid_epc_urn");
        assert_eq!(code(p("urn:epc:id:cpi:4012345.AB.01")), "invalid_value");
        assert_eq!(
            code(p("urn:epc:tag:sgtin-96:x.0614141.812345.6789")),
            "invalid_epc_urn"
        );
        assert_eq!(code(p("urn:isbn:123")), "invalid_epc_urn");
        assert_eq!(code(p("")), "invalid_epc_urn");
        assert_eq!(code(p("urn:epc:id:sgtin")), "invalid_epc_urn");
        let colon = p("urn:epc:id:sgtin:4012345.011111.a:b.c").unwrap();
        assert_eq!(colon.element_string().serial(), Some("a:b.c"));
    }

    #[test]
    fn keys_to_urn_needs_a_fitting_prefix_length() {
        let es = ElementString::parse_bracketed("(01)04012345111118(21)1001(17)270131").unwrap();
        assert_eq!(
            EpcUrn::from_element_string(&es, 7).unwrap().to_urn(),
            "urn:epc:id:sgtin:4012345.011111.1001"
        );
        assert_eq!(
            EpcUrn::from_element_string(&es, 9).unwrap().to_urn(),
            "urn:epc:id:sgtin:401234511.0111.1001"
        );
        assert_eq!(
            code(EpcUrn::from_element_string(&es, 5)),
            "invalid_company_prefix"
        );
        assert_eq!(
            code(EpcUrn::from_element_string(&es, 13)),
            "invalid_company_prefix"
        );
        let es = ElementString::parse_bracketed("(8004)40123X").unwrap();
        assert_eq!(
            code(EpcUrn::from_element_string(&es, 7)),
            "invalid_company_prefix"
        );
        let es = ElementString::parse_bracketed("(8003)04012345000009").unwrap();
        assert_eq!(code(EpcUrn::from_element_string(&es, 7)), "unsupported_epc");
        let es = ElementString::parse_bracketed("(01)04012345111118(235)X").unwrap();
        assert_eq!(code(EpcUrn::from_element_string(&es, 7)), "unsupported_epc");
        let es = ElementString::parse_bracketed("(400)PO-1").unwrap();
        assert_eq!(code(EpcUrn::from_element_string(&es, 7)), "unsupported_epc");
    }
}
