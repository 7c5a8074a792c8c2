//! GS1 element strings: the ordered `(AI, value)` pairs inside a GS1-128, GS1 DataMatrix, GS1
//! QR Code, DataBar or DotCode symbol.
//!
//! Why this module exists: the same data reaches Threadline in three spellings — what a scanner
//! transmits (symbology identifier, then AIs and values with ASCII 29 `GS` where the symbol has an
//! FNC1 separator), the bracketed human-readable form `(01)…(21)…` typed by people and used in
//! documents, and the `^`-as-FNC1 notation of GS1's own test vectors — and labels must be
//! produced in all of them. [`ElementString`] is the one parsed, validated form; every spelling is
//! parsed into it and printed from it, so the separator rules (GS only after AIs outside the
//! predefined-length table, never after the last) live in exactly one place.
//!
//! Validation on parse: unknown AI, value length, character set, check digits, dates, repeated AI
//! with a different value, mutually exclusive AIs and (unless disabled in [`ParseOptions`])
//! missing requisite AIs. An AI repeated with the *same* value is accepted and kept once.

use std::fmt;

use threadline_domain::error::FieldError;

use crate::ParseOptions;
use crate::ai::{self, AiDef, Gs1Date};
use crate::keys::{Gln, Gtin, Sscc};

/// ASCII 29, "group separator": how scanners transmit an FNC1 separator.
pub const GS: char = '\u{1d}';

/// Most AIs a single element string may hold (the GS1 syntax engine's limit).
pub const MAX_AIS: usize = 64;

/// The GS1 symbologies that carry element strings, with their AIM symbology identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Symbology {
    /// GS1-128, `]C1`.
    Gs1128,
    /// GS1 DataMatrix, `]d2`.
    DataMatrix,
    /// GS1 QR Code, `]Q3`.
    QrCode,
    /// GS1 DataBar and composite, `]e0`.
    DataBar,
    /// GS1 DotCode, `]J1`.
    DotCode,
}

impl Symbology {
    pub const ALL: [Symbology; 5] = [
        Symbology::Gs1128,
        Symbology::DataMatrix,
        Symbology::QrCode,
        Symbology::DataBar,
        Symbology::DotCode,
    ];

    /// The three-character symbology identifier a scanner sends first, e.g. `]d2`.
    pub fn identifier(self) -> &'static str {
        match self {
            Symbology::Gs1128 => "]C1",
            Symbology::DataMatrix => "]d2",
            Symbology::QrCode => "]Q3",
            Symbology::DataBar => "]e0",
            Symbology::DotCode => "]J1",
        }
    }

    /// The symbology whose identifier starts `data`, if any.
    pub fn detect(data: &str) -> Option<Symbology> {
        Symbology::ALL
            .into_iter()
            .find(|s| data.starts_with(s.identifier()))
    }
}

/// One `(AI, value)` pair whose value has been checked against the dictionary.
#[derive(Clone)]
pub struct Element {
    ai: String,
    value: String,
    def: &'static AiDef,
}

impl Element {
    /// Parses and validates one pair (without the cross-element rules).
    pub fn new(ai: &str, value: &str) -> Result<Self, FieldError> {
        let def = ai::lookup(ai).ok_or_else(|| {
            let mut e = unknown_ai(ai);
            e.message = format!(
                "({}){}: {}",
                ai.escape_debug(),
                value.escape_debug(),
                e.message
            );
            e
        })?;
        def.validate(ai, value)?;
        Ok(Self {
            ai: ai.to_owned(),
            value: value.to_owned(),
            def,
        })
    }

    pub fn ai(&self) -> &str {
        &self.ai
    }
    pub fn value(&self) -> &str {
        &self.value
    }
    /// The dictionary entry of this AI.
    pub fn def(&self) -> &'static AiDef {
        self.def
    }
}

impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.ai == other.ai && self.value == other.value
    }
}
impl Eq for Element {}
impl std::hash::Hash for Element {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ai.hash(state);
        self.value.hash(state);
    }
}
impl fmt::Debug for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}){}", self.ai, self.value)
    }
}

pub(crate) fn unknown_ai(ai: &str) -> FieldError {
    FieldError::new(
        "unknown_ai",
        format!(
            "`{}` is not a known GS1 Application Identifier",
            ai.escape_debug()
        ),
    )
}

/// An ordered, validated list of GS1 elements.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ElementString {
    elements: Vec<Element>,
}

impl ElementString {
    /// Builds an element string from `(AI, value)` pairs in the given order, with every check.
    pub fn from_pairs<I, A, V>(pairs: I) -> Result<Self, FieldError>
    where
        I: IntoIterator<Item = (A, V)>,
        A: AsRef<str>,
        V: AsRef<str>,
    {
        Self::from_pairs_with(pairs, &ParseOptions::default())
    }

    /// [`ElementString::from_pairs`] with explicit options.
    pub fn from_pairs_with<I, A, V>(pairs: I, options: &ParseOptions) -> Result<Self, FieldError>
    where
        I: IntoIterator<Item = (A, V)>,
        A: AsRef<str>,
        V: AsRef<str>,
    {
        let mut elements: Vec<Element> = Vec::new();
        let mut count = 0usize;
        for (ai, value) in pairs {
            let (ai, value) = (ai.as_ref(), value.as_ref());
            count += 1;
            if count > MAX_AIS {
                return Err(FieldError::new(
                    "too_many_ais",
                    format!("an element string may hold at most {MAX_AIS} AIs"),
                ));
            }
            let element = Element::new(ai, value)?;
            if let Some(prev) = elements.iter().find(|e| e.ai == element.ai) {
                if prev.value != element.value {
                    return Err(FieldError::new(
                        "conflicting_ai_values",
                        format!(
                            "AI ({ai}) {} appears twice with different values `{}` and `{value}`",
                            element.def.title(),
                            prev.value
                        ),
                    ));
                }
                continue;
            }
            elements.push(element);
        }
        if elements.is_empty() {
            return Err(FieldError::new(
                "empty_input",
                "no GS1 Application Identifiers found",
            ));
        }
        let pairs: Vec<(&str, &str)> = elements
            .iter()
            .map(|e| (e.ai.as_str(), e.value.as_str()))
            .collect();
        ai::check_associations(&pairs, options.check_requisites)?;
        Ok(Self { elements })
    }

    /// Wraps elements that were validated individually and together already (a reordering of
    /// another element string).
    pub(crate) fn from_validated(elements: Vec<Element>) -> Self {
        Self { elements }
    }

    /// Parses bracketed text `(01)09521234543213(10)ABC123`. Spaces around values are ignored,
    /// so printed human-readable text `(01) 09521234543213 (10) ABC123` also parses. A `(`
    /// inside a value is written `\(`.
    pub fn parse_bracketed(s: &str) -> Result<Self, FieldError> {
        Self::parse_bracketed_with(s, &ParseOptions::default())
    }

    /// [`ElementString::parse_bracketed`] with explicit options.
    pub fn parse_bracketed_with(s: &str, options: &ParseOptions) -> Result<Self, FieldError> {
        let syntax = |why: &str| {
            FieldError::new(
                "invalid_element_string",
                format!(
                    "`{}` is not a bracketed element string: {why}",
                    s.escape_debug()
                ),
            )
        };
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut rest = s.trim();
        if !rest.starts_with('(') {
            return Err(syntax("it must start with `(`"));
        }
        while let Some(after_open) = rest.strip_prefix('(') {
            let close = after_open
                .find(')')
                .ok_or_else(|| syntax("a `(` is not closed"))?;
            let ai = &after_open[..close];
            if !(2..=4).contains(&ai.len()) || !ai.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unknown_ai(ai));
            }
            let mut value = String::new();
            let mut tail = &after_open[close + 1..];
            loop {
                match tail.find(['(', '\\']) {
                    None => {
                        value.push_str(tail);
                        tail = "";
                        break;
                    }
                    Some(i) if tail[i..].starts_with("\\(") => {
                        value.push_str(&tail[..i]);
                        value.push('(');
                        tail = &tail[i + 2..];
                    }
                    Some(i) if tail.as_bytes()[i] == b'\\' => {
                        value.push_str(&tail[..=i]);
                        tail = &tail[i + 1..];
                    }
                    Some(i) => {
                        value.push_str(&tail[..i]);
                        tail = &tail[i..];
                        break;
                    }
                }
            }
            pairs.push((ai.to_owned(), value.trim_matches(' ').to_owned()));
            rest = tail;
        }
        Self::from_pairs_with(pairs, options)
    }

    /// Parses what a scanner transmits: an optional GS1 symbology identifier (`]C1`, `]d2`,
    /// `]Q3`, `]e0`, `]J1`), an optional leading GS (FNC1 in first position), then AIs and values
    /// with GS after every variable-length element. A trailing GS is tolerated, and so is a GS
    /// after a predefined-length element.
    pub fn parse_raw(data: &str) -> Result<Self, FieldError> {
        Self::parse_raw_with(data, &ParseOptions::default())
    }

    /// [`ElementString::parse_raw`] with explicit options.
    pub fn parse_raw_with(data: &str, options: &ParseOptions) -> Result<Self, FieldError> {
        let mut rest = data;
        if let Some(sym) = Symbology::detect(rest) {
            rest = &rest[sym.identifier().len()..];
        } else if rest.starts_with(']') {
            return Err(FieldError::new(
                "invalid_symbology",
                format!(
                    "`{}` does not start with a GS1 symbology identifier (]C1, ]d2, ]Q3, ]e0, ]J1)",
                    data.escape_debug()
                ),
            ));
        }
        rest = rest.strip_prefix(GS).unwrap_or(rest);
        if let Some(c) = rest
            .chars()
            .find(|&c| c != GS && (!c.is_ascii() || c.is_ascii_control()))
        {
            return Err(FieldError::new(
                "invalid_character",
                format!(
                    "scan data `{}` contains {}, which cannot appear in GS1 data",
                    data.escape_debug(),
                    c.escape_debug()
                ),
            ));
        }
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        while !rest.is_empty() {
            if rest.starts_with(GS) {
                return Err(FieldError::new(
                    "invalid_element_string",
                    format!(
                        "scan data `{}` has an empty element (two separators)",
                        data.escape_debug()
                    ),
                ));
            }
            let Some((ai, _)) = ai::match_prefix(rest) else {
                let lead: String = rest
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .take(4)
                    .collect();
                let shown = if lead.is_empty() {
                    rest.chars().take(4).collect()
                } else {
                    lead
                };
                return Err(unknown_ai(&shown));
            };
            let after = &rest[ai.len()..];
            let end = after.find(GS).unwrap_or(after.len());
            let value_len = match ai::predefined_length(ai) {
                Some(total) => {
                    let n = total - ai.len();
                    if end < n {
                        return Err(FieldError::new(
                            "invalid_length",
                            format!(
                                "AI ({ai}) needs exactly {n} characters but only `{}` follows",
                                &after[..end]
                            ),
                        ));
                    }
                    n
                }
                None => end,
            };
            pairs.push((ai, &after[..value_len]));
            rest = &after[value_len..];
            rest = rest.strip_prefix(GS).unwrap_or(rest);
        }
        Self::from_pairs_with(pairs, options)
    }

    /// Parses GS1's test-vector notation, where `^` stands for FNC1: `^0112345678901231^10ABC`.
    pub fn parse_caret(s: &str) -> Result<Self, FieldError> {
        let Some(body) = s.strip_prefix('^') else {
            return Err(FieldError::new(
                "invalid_element_string",
                format!(
                    "`{}` must start with `^` (FNC1 in first position)",
                    s.escape_debug()
                ),
            ));
        };
        if body.contains(GS) {
            return Err(FieldError::new(
                "invalid_character",
                "`^` notation must not contain a GS character",
            ));
        }
        Self::parse_raw(&body.replace('^', &GS.to_string()))
    }

    /// The elements, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Element> {
        self.elements.iter()
    }
    pub fn elements(&self) -> &[Element] {
        &self.elements
    }
    pub fn len(&self) -> usize {
        self.elements.len()
    }
    /// Always `false`: a parsed element string holds at least one element.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
    /// The value of `ai`, if present.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    }
    pub fn contains(&self, ai: &str) -> bool {
        self.get(ai).is_some()
    }

    fn separated(&self, sep: char) -> String {
        let mut out = String::new();
        let last = self.elements.len().saturating_sub(1);
        for (i, e) in self.elements.iter().enumerate() {
            out.push_str(&e.ai);
            out.push_str(&e.value);
            if i != last && ai::needs_fnc1(&e.ai) {
                out.push(sep);
            }
        }
        out
    }

    /// The data as a scanner transmits it after the symbology identifier: AIs and values with
    /// GS after every element outside the predefined-length table, except the last.
    pub fn to_raw(&self) -> String {
        self.separated(GS)
    }

    /// What a scanner sends for a symbol of `symbology`: identifier followed by [`Self::to_raw`].
    pub fn to_scan_data(&self, symbology: Symbology) -> String {
        format!("{}{}", symbology.identifier(), self.to_raw())
    }

    /// GS1's `^` notation: `^` for FNC1 in first position and for every separator.
    pub fn to_caret(&self) -> String {
        format!("^{}", self.separated('^'))
    }

    /// Bracketed form `(01)…(10)…`, with `(` in values escaped as `\(`.
    pub fn to_bracketed(&self) -> String {
        self.elements
            .iter()
            .map(|e| format!("({}){}", e.ai, e.value.replace('(', "\\(")))
            .collect()
    }

    /// Human-readable interpretation lines, one per element: `(01) 09521234543213`.
    pub fn hri(&self) -> Vec<String> {
        self.elements
            .iter()
            .map(|e| format!("({}) {}", e.ai, e.value))
            .collect()
    }

    /// HRI lines with data titles: `GTIN (01) 09521234543213`.
    pub fn hri_with_titles(&self) -> Vec<String> {
        self.elements
            .iter()
            .map(|e| format!("{} ({}) {}", e.def.title(), e.ai, e.value))
            .collect()
    }

    /// AI (01).
    pub fn gtin(&self) -> Option<Gtin> {
        self.get("01").and_then(|v| Gtin::parse(v).ok())
    }
    /// AI (02), the GTIN of the trade items contained in a logistic unit.
    pub fn content_gtin(&self) -> Option<Gtin> {
        self.get("02").and_then(|v| Gtin::parse(v).ok())
    }
    /// AI (21).
    pub fn serial(&self) -> Option<&str> {
        self.get("21")
    }
    /// AI (10).
    pub fn lot(&self) -> Option<&str> {
        self.get("10")
    }
    /// AI (17), use-by or expiry date.
    pub fn expiry(&self) -> Option<Gs1Date> {
        self.date("17")
    }
    /// AI (15).
    pub fn best_before(&self) -> Option<Gs1Date> {
        self.date("15")
    }
    /// AI (11).
    pub fn production_date(&self) -> Option<Gs1Date> {
        self.date("11")
    }
    /// AI (13).
    pub fn pack_date(&self) -> Option<Gs1Date> {
        self.date("13")
    }
    /// The `YYMMDD` date in `ai`, if present.
    pub fn date(&self, ai: &str) -> Option<Gs1Date> {
        self.get(ai).and_then(|v| Gs1Date::parse(v).ok())
    }
    /// AI (00).
    pub fn sscc(&self) -> Option<Sscc> {
        self.get("00").and_then(|v| Sscc::parse(v).ok())
    }
    /// AI (414), the GLN of a physical location.
    pub fn gln(&self) -> Option<Gln> {
        self.get("414").and_then(|v| Gln::parse(v).ok())
    }
    /// AI (254), the extension of the location GLN.
    pub fn gln_extension(&self) -> Option<&str> {
        self.get("254")
    }
    /// AI (417), the GLN of a party.
    pub fn party_gln(&self) -> Option<Gln> {
        self.get("417").and_then(|v| Gln::parse(v).ok())
    }
    /// AI (37), count of trade items in a logistic unit.
    pub fn count(&self) -> Option<u64> {
        self.get("37").and_then(|v| v.parse().ok())
    }
}

impl fmt::Display for ElementString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_bracketed())
    }
}

impl<'a> IntoIterator for &'a ElementString {
    type Item = &'a Element;
    type IntoIter = std::slice::Iter<'a, Element>;
    fn into_iter(self) -> Self::IntoIter {
        self.elements.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code<T: fmt::Debug>(r: Result<T, FieldError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn published_fnc1_vectors() {
        let es = ElementString::parse_bracketed("(01)12345678901231(10)12345").unwrap();
        assert_eq!(es.to_caret(), "^01123456789012311012345");
        let es = ElementString::parse_bracketed_with(
            "(10)12345(11)991225",
            &ParseOptions::default().with_requisites(false),
        )
        .unwrap();
        assert_eq!(es.to_caret(), "^1012345^11991225");
        assert_eq!(es.to_raw(), "1012345\u{1d}11991225");
        assert_eq!(
            ElementString::parse_caret("^1012345^11991225")
                .map(|e| e.to_bracketed())
                .map_err(|e| e.code),
            Err("missing_required_ai")
        );
    }

    #[test]
    fn raw_scanner_data() {
        let gs = GS;
        let data = format!("]d201095212345432131727013110ABC123{gs}21XYZ");
        let es = ElementString::parse_raw(&data).unwrap();
        assert_eq!(
            es.to_bracketed(),
            "(01)09521234543213(17)270131(10)ABC123(21)XYZ"
        );
        assert_eq!(es.to_scan_data(Symbology::DataMatrix), data);
        assert_eq!(es.gtin().unwrap().as_str(), "09521234543213");
        assert_eq!(es.serial(), Some("XYZ"));
        assert_eq!(es.lot(), Some("ABC123"));
        assert_eq!(es.expiry().unwrap().to_string(), "270131");
        for sym in Symbology::ALL {
            let data = format!("{}0109521234543213{gs}", sym.identifier());
            assert_eq!(
                ElementString::parse_raw(&data).unwrap().to_raw(),
                "0109521234543213"
            );
        }
        // Leading GS (FNC1 in first position) and GS after a fixed-length element tolerated.
        let es = ElementString::parse_raw(&format!("{gs}0109521234543213{gs}21A{gs}")).unwrap();
        assert_eq!(es.to_raw(), "0109521234543213211A".replace("211A", "21A"));
        assert_eq!(
            code(ElementString::parse_raw("]C0123")),
            "invalid_symbology"
        );
        assert_eq!(
            code(ElementString::parse_raw(&format!(
                "0109521234543213{gs}{gs}21A"
            ))),
            "invalid_element_string"
        );
        assert_eq!(
            code(ElementString::parse_raw("010952123454321")),
            "invalid_length"
        );
        assert_eq!(
            code(ElementString::parse_raw(&format!("01095212345{gs}21A"))),
            "invalid_length"
        );
        assert_eq!(
            code(ElementString::parse_raw("0109521234543213\u{1d}2X")),
            "unknown_ai"
        );
        assert_eq!(code(ElementString::parse_raw("23999")), "unknown_ai");
        assert_eq!(
            code(ElementString::parse_raw("0109521234543213\u{1d}21Aé")),
            "invalid_character"
        );
        assert_eq!(code(ElementString::parse_raw("")), "empty_input");
        assert_eq!(code(ElementString::parse_raw("]d2")), "empty_input");
    }

    #[test]
    fn gs_placement() {
        // Variable-length AI followed by others: GS after it; fixed-length, non-predefined
        // (8006) also needs a GS; predefined ones (01, 17, 3103) do not; never after the last.
        let es = ElementString::from_pairs([
            ("01", "09521234543213"),
            ("3103", "001250"),
            ("10", "L1"),
            ("17", "270100"),
            ("21", "S1"),
        ])
        .unwrap();
        assert_eq!(
            es.to_caret(),
            "^0109521234543213310300125010L1^1727010021S1"
        );
        let es = ElementString::from_pairs([("8006", "123456789012310102"), ("21", "9")]).unwrap();
        assert_eq!(es.to_caret(), "^8006123456789012310102^219");
    }

    #[test]
    fn bracketed_and_hri() {
        let es = ElementString::parse_bracketed("(01) 09521234543213 (10) ABC\\(1)").unwrap();
        assert_eq!(es.lot(), Some("ABC(1)"));
        assert_eq!(es.to_bracketed(), "(01)09521234543213(10)ABC\\(1)");
        assert_eq!(
            ElementString::parse_bracketed(&es.to_bracketed()).unwrap(),
            es
        );
        assert_eq!(es.hri(), vec!["(01) 09521234543213", "(10) ABC(1)"]);
        assert_eq!(
            es.hri_with_titles(),
            vec!["GTIN (01) 09521234543213", "BATCH/LOT (10) ABC(1)"]
        );
        assert_eq!(
            code(ElementString::parse_bracketed("01)1")),
            "invalid_element_string"
        );
        assert_eq!(
            code(ElementString::parse_bracketed("(0109521234543213")),
            "invalid_element_string"
        );
        assert_eq!(code(ElementString::parse_bracketed("(1)1")), "unknown_ai");
        assert_eq!(
            code(ElementString::parse_bracketed("(99999)1")),
            "unknown_ai"
        );
        assert_eq!(code(ElementString::parse_bracketed("(23)1")), "unknown_ai");
        assert_eq!(
            code(ElementString::parse_bracketed("(01)")),
            "invalid_length"
        );
        assert_eq!(
            code(ElementString::parse_bracketed("(01)09521234543213(21)A B")),
            "invalid_character"
        );
    }

    #[test]
    fn cross_element_rules() {
        let p = |s: &str| ElementString::parse_bracketed(s).map_err(|e| e.code);
        assert!(p("(01)09521234543213(21)A(21)A").is_ok());
        assert_eq!(p("(01)09521234543213(21)A(21)A").unwrap().len(), 2);
        assert_eq!(
            p("(01)09521234543213(21)A(21)B"),
            Err("conflicting_ai_values")
        );
        assert_eq!(p("(21)A"), Err("missing_required_ai"));
        assert_eq!(p("(01)09521234543213(250)X"), Err("missing_required_ai"));
        assert_eq!(p("(01)09521234543213(21)A(250)X").map(|e| e.len()), Ok(3));
        assert_eq!(
            p("(01)09521234543213(02)09521234543213(37)1"),
            Err("mutually_exclusive_ais")
        );
        assert_eq!(
            p("(00)095212345000000001(02)09521234543213(37)12(10)L"),
            Ok(p("(00)095212345000000001(02)09521234543213(37)12(10)L").unwrap())
        );
        assert_eq!(p("(01)09521234543213(17)251301"), Err("invalid_date"));
        assert_eq!(p("(01)09521234543214"), Err("invalid_check_digit"));
        let many: String = (0..65).map(|_| "(91)X").collect();
        assert_eq!(p(&many), Err("too_many_ais"));
        let msg = ElementString::parse_bracketed("(01)09521234543213(21)A(21)B")
            .unwrap_err()
            .message;
        assert!(
            msg.contains("(21)") && msg.contains("`A`") && msg.contains("`B`"),
            "{msg}"
        );
    }
}
