//! Classifying what a keyboard-wedge scanner (or a person at a keyboard) sends.
//!
//! Why this module exists: a warehouse clerk scans whatever is on the box — a GS1 DataMatrix
//! (`]d2` + AIs with GS separators), a GS1-128 whose scanner strips the symbology identifier, a
//! QR code with a Digital Link URI, an RFID middleware export of EPC URNs, a supplier's own serial
//! in a plain Code 128 — and every screen of Threadline needs the same answer: which GS1 keys
//! (GTIN, serial, lot, expiry, SSCC, GLN) are in it, or is it a company's own code. [`parse_scan`]
//! is the one place where that decision is made, so all screens behave the same way.
//!
//! The decision, in order (after trimming CR, LF and TAB that scanners append):
//! 1. ISO/IEC 15434 envelope `[)>` RS `05` GS … → GS1 element string (other formats: plain);
//! 2. a GS1 symbology identifier (`]C1`, `]d2`, `]Q3`, `]e0`, `]J1`) → GS1 element string;
//! 3. an EAN/UPC identifier (`]E0` with 13 digits, `]E4` with 8) → GTIN;
//! 4. any other symbology identifier (`]d1`, `]Q1`, `]C0`, …) is dropped and the rest classified;
//! 5. data containing a GS character → GS1 element string (scanner without identifiers);
//! 6. `(NN)…` → bracketed element string;
//! 7. `http://` / `https://` → Digital Link if the path holds a GS1 primary key, else plain;
//! 8. `urn:epc:` → EPC URN;
//! 9. a GS1 element string whose separators were lost, where that is unambiguous (below);
//! 10. anything else → [`Scan::Plain`].
//!
//! Anything classified as GS1 data but invalid is an error (a damaged or mis-encoded label must
//! not silently become a "plain" serial). Bare digits without an identifier stay plain: they
//! could be a GTIN, a GS1-128 without separators, or a company serial, and only the caller's
//! context can tell.
//!
//! A phone camera's barcode reader often returns a GS1 DataMatrix or QR without its symbology
//! identifier and without the FNC1 separators. Such text is read as an element string (rule 9)
//! only when nothing else can be meant: it starts with an SSCC `(00)` or a GTIN `(01)` whose
//! check digit holds, every element but the last has a predefined length (so none of them
//! needed a separator), the last one's value is valid for its AI, it holds more than the key,
//! and it is not bare digits. Otherwise it stays plain and is never an error. What cannot be
//! told without separators is where a variable-length element ends when another follows it:
//! `0109521234543213` `21SN1` `10L1` reads as serial `SN110L1`; GS1 puts variable-length
//! elements last, and such a serial finds no unit rather than a wrong one.

use threadline_domain::error::FieldError;

use crate::ParseOptions;
use crate::ai::Gs1Date;
use crate::digital_link::DigitalLink;
use crate::element::{ElementString, GS, Symbology};
use crate::epc::EpcUrn;
use crate::keys::{Gln, Gtin, Sscc};

/// What a scan turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// GS1 element string: raw scanner data, bracketed text or an EAN/UPC code.
    ElementString(ElementString),
    /// GS1 Digital Link URI.
    DigitalLink(DigitalLink),
    /// EPC URN.
    EpcUrn(EpcUrn),
    /// Not GS1: a company's own code, returned without the trailing CR/LF.
    Plain(String),
}

/// Classifies scanner input with the default [`ParseOptions`].
pub fn parse_scan(input: &str) -> Result<Scan, FieldError> {
    parse_scan_with(input, &ParseOptions::default())
}

/// Classifies scanner input. See the module documentation for the rules.
pub fn parse_scan_with(input: &str, options: &ParseOptions) -> Result<Scan, FieldError> {
    let s = input.trim_matches(['\r', '\n', '\t']);
    if s.is_empty() {
        return Err(FieldError::new("empty_scan", "the scan is empty"));
    }
    if let Some(envelope) = s.strip_prefix("[)>\u{1e}") {
        return match envelope.strip_prefix("05\u{1d}") {
            Some(body) => {
                let body = body.trim_end_matches(['\u{4}', '\u{1e}']);
                ElementString::parse_raw_with(body, options).map(Scan::ElementString)
            }
            None => Ok(Scan::Plain(s.to_owned())),
        };
    }
    let b = s.as_bytes();
    if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric() {
        if Symbology::detect(s).is_some() {
            return ElementString::parse_raw_with(s, options).map(Scan::ElementString);
        }
        let data = &s[3..];
        let retail_len = match &s[..3] {
            "]E0" => Some(13),
            "]E4" => Some(8),
            _ => None,
        };
        if retail_len == Some(data.len()) && data.bytes().all(|b| b.is_ascii_digit()) {
            let gtin = Gtin::parse(data)?;
            return ElementString::from_pairs_with([("01", gtin.as_str())], options)
                .map(Scan::ElementString);
        }
        if data.is_empty() {
            return Err(FieldError::new(
                "empty_scan",
                "the scan holds only a symbology identifier",
            ));
        }
        return classify_text(data, options);
    }
    if s.contains(GS) {
        return ElementString::parse_raw_with(s, options).map(Scan::ElementString);
    }
    classify_text(s, options)
}

fn looks_bracketed(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('(') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (2..=4).contains(&digits) && rest.as_bytes().get(digits) == Some(&b')')
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

fn classify_text(s: &str, options: &ParseOptions) -> Result<Scan, FieldError> {
    if looks_bracketed(s) {
        return ElementString::parse_bracketed_with(s, options).map(Scan::ElementString);
    }
    if starts_with_ignore_case(s, "http://") || starts_with_ignore_case(s, "https://") {
        return match DigitalLink::parse_with(s, options) {
            Ok(dl) => Ok(Scan::DigitalLink(dl)),
            Err(e) if e.code == "not_a_digital_link" => Ok(Scan::Plain(s.to_owned())),
            Err(e) => Err(e),
        };
    }
    if starts_with_ignore_case(s, "urn:epc:") {
        return EpcUrn::parse(s).map(Scan::EpcUrn);
    }
    if let Some(es) = unseparated(s, options) {
        return Ok(Scan::ElementString(es));
    }
    Ok(Scan::Plain(s.to_owned()))
}

/// An element string that lost its separators, where reading it as one is unambiguous (see the
/// module documentation); `None` leaves the text plain.
fn unseparated(s: &str, options: &ParseOptions) -> Option<ElementString> {
    let keyed = s.starts_with("00") || s.starts_with("01");
    if !keyed || s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let es = ElementString::parse_raw_with(s, options).ok()?;
    (es.len() >= 2).then_some(es)
}

impl Scan {
    /// The GS1 data of the scan, whatever its form; `None` for plain text.
    pub fn element_string(&self) -> Option<&ElementString> {
        match self {
            Scan::ElementString(es) => Some(es),
            Scan::DigitalLink(dl) => Some(dl.element_string()),
            Scan::EpcUrn(urn) => Some(urn.element_string()),
            Scan::Plain(_) => None,
        }
    }
    /// The text of a plain (non-GS1) scan.
    pub fn plain(&self) -> Option<&str> {
        match self {
            Scan::Plain(s) => Some(s),
            _ => None,
        }
    }
    /// `element_string`, `digital_link`, `epc_urn` or `plain`, for logs and API responses.
    pub fn kind(&self) -> &'static str {
        match self {
            Scan::ElementString(_) => "element_string",
            Scan::DigitalLink(_) => "digital_link",
            Scan::EpcUrn(_) => "epc_urn",
            Scan::Plain(_) => "plain",
        }
    }
    /// The value of any AI in the scan.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.element_string().and_then(|es| es.get(ai))
    }
    /// GTIN (01).
    pub fn gtin(&self) -> Option<Gtin> {
        self.element_string().and_then(ElementString::gtin)
    }
    /// Serial (21).
    pub fn serial(&self) -> Option<&str> {
        self.get("21")
    }
    /// Batch/lot (10).
    pub fn lot(&self) -> Option<&str> {
        self.get("10")
    }
    /// Expiry / use-by date (17).
    pub fn expiry(&self) -> Option<Gs1Date> {
        self.element_string().and_then(ElementString::expiry)
    }
    /// SSCC (00).
    pub fn sscc(&self) -> Option<Sscc> {
        self.element_string().and_then(ElementString::sscc)
    }
    /// Location GLN (414).
    pub fn gln(&self) -> Option<Gln> {
        self.element_string().and_then(ElementString::gln)
    }
    /// GLN extension (254).
    pub fn gln_extension(&self) -> Option<&str> {
        self.get("254")
    }
    /// Party GLN (417).
    pub fn party_gln(&self) -> Option<Gln> {
        self.element_string().and_then(ElementString::party_gln)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let gs = GS;
        let s = parse_scan(&format!("]d2010952123454321321SN1{gs}10L1{gs}17270131\r\n")).unwrap();
        assert_eq!(s.kind(), "element_string");
        assert_eq!(s.gtin().unwrap().as_str(), "09521234543213");
        assert_eq!((s.serial(), s.lot()), (Some("SN1"), Some("L1")));
        assert_eq!(s.expiry().unwrap().to_string(), "270131");

        let s = parse_scan(&format!("0109521234543213{gs}21SN1\n")).unwrap();
        assert_eq!(s.serial(), Some("SN1"));
        let s = parse_scan("(00)340123450000000017").unwrap();
        assert_eq!(s.sscc().unwrap().as_str(), "340123450000000017");
        let s = parse_scan("https://id.gs1.org/01/09521234543213/21/SN1?17=270131").unwrap();
        assert_eq!(s.kind(), "digital_link");
        assert_eq!(s.expiry().unwrap().to_string(), "270131");
        let s = parse_scan("]Q1https://example.com/01/09521234543213/10/L1").unwrap();
        assert_eq!(s.lot(), Some("L1"));
        let s = parse_scan("urn:epc:id:sgln:4012345.00000.12").unwrap();
        assert_eq!(s.kind(), "epc_urn");
        assert_eq!(s.gln().unwrap().as_str(), "4012345000009");
        assert_eq!(s.gln_extension(), Some("12"));
        let s = parse_scan("urn:epc:id:pgln:4012345.00000").unwrap();
        assert_eq!(s.party_gln().unwrap().as_str(), "4012345000009");
        let s = parse_scan("]E04006381333931").unwrap();
        assert_eq!(s.gtin().unwrap().as_str(), "04006381333931");
        let s = parse_scan(&format!(
            "[)>\u{1e}05\u{1d}0109521234543213{gs}21X\u{1e}\u{4}"
        ))
        .unwrap();
        assert_eq!(s.serial(), Some("X"));

        for plain in [
            "SN-2024-0001",
            "4006381333931",
            "https://example.com/about",
            "(A)12",
            "]C0ABC123",
            "urn:uuid:1",
        ] {
            let s = parse_scan(&format!("{plain}\r\n")).unwrap();
            let expected = plain.strip_prefix("]C0").unwrap_or(plain);
            assert_eq!(s, Scan::Plain(expected.to_owned()), "{plain}");
            assert_eq!(s.element_string(), None);
            assert_eq!(s.gtin(), None);
        }
    }

    /// What a phone camera returns for a GS1 DataMatrix: no `]d2`, no GS.
    #[test]
    fn separators_lost_by_a_camera() {
        // GTIN, expiry, lot last: every element but the last has a predefined length.
        let s = parse_scan("01095212345432131727013110LOT-7").unwrap();
        assert_eq!(s.kind(), "element_string");
        assert_eq!(
            s.gtin().map(|g| g.as_str().to_owned()).as_deref(),
            Some("09521234543213")
        );
        assert_eq!(s.lot(), Some("LOT-7"));
        assert_eq!(s.expiry().map(|d| d.to_string()).as_deref(), Some("270131"));
        // GTIN and serial.
        let s = parse_scan("010952123454321321SN-0001\r\n").unwrap();
        assert_eq!((s.kind(), s.serial()), ("element_string", Some("SN-0001")));
        // An SSCC and the order it ships on.
        let s = parse_scan("00095212345678901235400PO-88").unwrap();
        assert_eq!(
            (s.sscc().map(|k| k.as_str().to_owned()), s.get("400")),
            (Some("095212345678901235".to_owned()), Some("PO-88"))
        );
        // Left plain: bare digits, a bad check digit, an unknown AI after the key, the key
        // alone, a company code that merely starts with 01, a fixed-length AI outside the
        // predefined table followed by more data.
        for plain in [
            "0109521234543213211234",
            "010952123454321421SN1",
            "0109521234543213ZZ9",
            "01ABC-2026",
            "0109521234543213",
            "00095212345678901234400PO-88",
            "01095212345432138006095212345432130102X",
        ] {
            assert_eq!(
                parse_scan(plain).unwrap(),
                Scan::Plain(plain.to_owned()),
                "{plain}"
            );
        }
        // The one thing it cannot tell: a variable-length element followed by another.
        let s = parse_scan("010952123454321321SN110L1").unwrap();
        assert_eq!(s.serial(), Some("SN110L1"));
    }

    #[test]
    fn errors() {
        let code = |s: &str| parse_scan(s).unwrap_err().code;
        assert_eq!(code("\r\n"), "empty_scan");
        assert_eq!(code("]d2"), "empty_input");
        assert_eq!(code("]C0"), "empty_scan");
        assert_eq!(code("]d20109521234543214"), "invalid_check_digit");
        assert_eq!(code("(21)ABC"), "missing_required_ai");
        assert_eq!(
            code("https://id.gs1.org/01/09521234543213?10=X"),
            "qualifier_in_query"
        );
        assert_eq!(code("urn:epc:id:sgtin:1.2.3"), "invalid_epc_urn");
        assert_eq!(code("]E04006381333932"), "invalid_check_digit");
        assert_eq!(code("01095212345\u{1d}21X"), "invalid_length");
        let lenient = ParseOptions::default().with_requisites(false);
        assert!(parse_scan_with("(21)ABC", &lenient).is_ok());
    }
}
