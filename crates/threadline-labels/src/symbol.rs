//! Barcode symbols: the data carrier of a label as a pattern of dark and light modules, before
//! it is drawn in any output format.
//!
//! Why this module exists: every output (SVG, PNG, PDF, and the graphic fallback of ZPL) draws
//! the same [`Symbol`], so what was verified by decoding it is what is printed. The GS1 data
//! comes from `threadline-gs1` ([`ElementString`], [`DigitalLink`]); the separator rules (FNC1
//! first, GS only after variable-length AIs, never after the last) live there, not here. The
//! module patterns come from `rxing`, except Data Matrix, which comes from `datamatrix`:
//! rxing's GS1 Data Matrix encoder (its "compact" mode, the only one with FNC1) ends some
//! symbols in a way decoders read trailing garbage from, which the round-trip tests caught.
//! GS1 Data Matrix is FNC1 first and ASCII 29 (GS) as the separator, which GS1 permits in
//! Data Matrix and which scanners transmit exactly as they do an FNC1 separator.

use rxing::{BarcodeFormat, EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};
use serde::{Deserialize, Serialize};
use threadline_domain::error::FieldError;
use threadline_gs1::{DigitalLink, ElementString, Gtin};

/// How a label's data is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Symbology {
    /// QR Code with any text.
    Qr,
    /// GS1 QR Code: an element string, FNC1 in first position.
    Gs1Qr,
    /// QR Code carrying a GS1 Digital Link URI (from an element string or a URI).
    DigitalLinkQr,
    /// Data Matrix (ECC 200) with any text.
    DataMatrix,
    /// GS1 DataMatrix: an element string, FNC1 first, FNC1 after variable-length AIs.
    Gs1Datamatrix,
    /// Code 128 with printable ASCII.
    Code128,
    /// GS1-128: an element string in Code 128, FNC1 first.
    Gs1_128,
    /// EAN-13 for a GTIN-13.
    Ean13,
    /// UPC-A for a GTIN-12.
    UpcA,
}

impl Symbology {
    pub const ALL: [Symbology; 9] = [
        Symbology::Qr,
        Symbology::Gs1Qr,
        Symbology::DigitalLinkQr,
        Symbology::DataMatrix,
        Symbology::Gs1Datamatrix,
        Symbology::Code128,
        Symbology::Gs1_128,
        Symbology::Ean13,
        Symbology::UpcA,
    ];

    /// The name used in templates (`gs1_datamatrix`).
    pub fn name(self) -> &'static str {
        match self {
            Symbology::Qr => "qr",
            Symbology::Gs1Qr => "gs1_qr",
            Symbology::DigitalLinkQr => "digital_link_qr",
            Symbology::DataMatrix => "data_matrix",
            Symbology::Gs1Datamatrix => "gs1_datamatrix",
            Symbology::Code128 => "code128",
            Symbology::Gs1_128 => "gs1_128",
            Symbology::Ean13 => "ean13",
            Symbology::UpcA => "upc_a",
        }
    }

    /// A one-row symbol (bars), as opposed to a matrix.
    pub fn is_linear(self) -> bool {
        matches!(
            self,
            Symbology::Code128 | Symbology::Gs1_128 | Symbology::Ean13 | Symbology::UpcA
        )
    }

    /// Carries GS1 keys, so GS1 asks for a human-readable interpretation next to it.
    pub fn is_gs1(self) -> bool {
        !matches!(
            self,
            Symbology::Qr | Symbology::DataMatrix | Symbology::Code128
        )
    }

    /// The light margin the symbology needs on every side, in modules.
    pub fn quiet_zone(self) -> u32 {
        match self {
            Symbology::Qr | Symbology::Gs1Qr | Symbology::DigitalLinkQr => 4,
            Symbology::DataMatrix | Symbology::Gs1Datamatrix => 1,
            Symbology::Code128 | Symbology::Gs1_128 => 10,
            Symbology::Ean13 | Symbology::UpcA => 9,
        }
    }

    fn format(self) -> BarcodeFormat {
        match self {
            Symbology::Qr | Symbology::Gs1Qr | Symbology::DigitalLinkQr => BarcodeFormat::QR_CODE,
            Symbology::DataMatrix | Symbology::Gs1Datamatrix => BarcodeFormat::DATA_MATRIX,
            Symbology::Code128 | Symbology::Gs1_128 => BarcodeFormat::CODE_128,
            Symbology::Ean13 => BarcodeFormat::EAN_13,
            Symbology::UpcA => BarcodeFormat::UPC_A,
        }
    }
}

impl std::fmt::Display for Symbology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The modules of one symbol, without its quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symbol {
    /// Bars: `true` is a dark module, left to right.
    Linear(Vec<bool>),
    /// A matrix, row by row from the top: `dark[y * width + x]`.
    Matrix {
        width: u32,
        height: u32,
        dark: Vec<bool>,
    },
}

impl Symbol {
    /// Width in modules.
    pub fn width(&self) -> u32 {
        match self {
            Symbol::Linear(bars) => u32::try_from(bars.len()).unwrap_or(u32::MAX),
            Symbol::Matrix { width, .. } => *width,
        }
    }

    /// Dark runs of one row as `(start, length)` in modules; a linear symbol has one row.
    pub fn runs(&self, row: u32) -> Vec<(u32, u32)> {
        let cells: &[bool] = match self {
            Symbol::Linear(bars) => bars,
            Symbol::Matrix { width, dark, .. } => {
                let w = *width as usize;
                let start = row as usize * w;
                dark.get(start..start + w).unwrap_or(&[])
            }
        };
        let mut runs = Vec::new();
        let mut start = None;
        for (x, &d) in cells.iter().enumerate() {
            let x = x as u32;
            match (d, start) {
                (true, None) => start = Some(x),
                (false, Some(s)) => {
                    runs.push((s, x - s));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            runs.push((s, cells.len() as u32 - s));
        }
        runs
    }
}

/// An encoded barcode: the symbol, what a scanner will transmit, and the text printed with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Barcode {
    symbology: Symbology,
    data: String,
    hri: Vec<String>,
    element_string: Option<ElementString>,
    symbol: Symbol,
}

impl Barcode {
    pub fn symbology(&self) -> Symbology {
        self.symbology
    }
    /// What a scanner transmits after the symbology identifier: for GS1 symbologies the AIs
    /// and values with ASCII 29 (GS) where the symbol has an FNC1 separator.
    pub fn data(&self) -> &str {
        &self.data
    }
    /// Human-readable interpretation, one line per element for GS1 data (`(01) 0952…`).
    pub fn hri(&self) -> &[String] {
        &self.hri
    }
    /// The element string of GS1 symbologies (Digital Link included).
    pub fn element_string(&self) -> Option<&ElementString> {
        self.element_string.as_ref()
    }
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }
}

/// GS1 General Specifications: a GS1-128 symbol carries at most 48 data characters.
pub const GS1_128_MAX_CHARACTERS: usize = 48;

fn invalid(code: &'static str, message: impl Into<String>) -> FieldError {
    FieldError::new(code, message)
}

/// Encodes `content` as a `symbology` symbol.
///
/// The content is, by symbology: any text (`qr`, `data_matrix`; printable ASCII for
/// `code128`); a bracketed element string `(01)…(21)…` (`gs1_qr`, `gs1_datamatrix`,
/// `gs1_128`); an element string or a Digital Link URI (`digital_link_qr`); a GTIN (`ean13`:
/// GTIN-13, or a GTIN-14 starting with 0; `upc_a`: GTIN-12, or a GTIN-13/14 starting with
/// zeros). Errors carry no field; the caller knows which template field it encoded.
pub fn encode(symbology: Symbology, content: &str) -> Result<Barcode, FieldError> {
    if content.is_empty() {
        return Err(invalid(
            "empty_barcode",
            format!("the {symbology} barcode has no data"),
        ));
    }
    let mut element_string = None;
    let (data, hri, writer_input) = match symbology {
        Symbology::Qr | Symbology::DataMatrix => {
            (content.to_owned(), Vec::new(), content.to_owned())
        }
        Symbology::Code128 => {
            if let Some(c) = content.chars().find(|c| !(' '..='~').contains(c)) {
                return Err(invalid(
                    "invalid_character",
                    format!("Code 128 carries printable ASCII only, not {c:?}"),
                ));
            }
            (
                content.to_owned(),
                vec![content.to_owned()],
                content.to_owned(),
            )
        }
        Symbology::Gs1Qr | Symbology::Gs1Datamatrix | Symbology::Gs1_128 => {
            let es = ElementString::parse_bracketed(content)?;
            let raw = es.to_raw();
            let characters = raw
                .chars()
                .filter(|&c| c != threadline_gs1::element::GS)
                .count();
            if symbology == Symbology::Gs1_128 && characters > GS1_128_MAX_CHARACTERS {
                return Err(invalid(
                    "too_long",
                    format!(
                        "GS1-128 carries at most {GS1_128_MAX_CHARACTERS} characters of AIs and values; this element string has {characters}"
                    ),
                ));
            }
            let input = if symbology == Symbology::Gs1_128 {
                // rxing's Code 128 writer takes U+00F1 for FNC1.
                format!(
                    "\u{f1}{}",
                    raw.replace(threadline_gs1::element::GS, "\u{f1}")
                )
            } else {
                raw.clone()
            };
            let hri = if symbology == Symbology::Gs1_128 {
                vec![es.hri().join(" ")]
            } else {
                es.hri()
            };
            element_string = Some(es);
            (raw, hri, input)
        }
        Symbology::DigitalLinkQr => {
            let link = if content.starts_with("http://") || content.starts_with("https://") {
                DigitalLink::parse(content)?
            } else {
                DigitalLink::from_element_string(&ElementString::parse_bracketed(content)?)?
            };
            let uri = link.to_uri();
            let hri = link.element_string().hri();
            element_string = Some(link.into_element_string());
            (uri.clone(), hri, uri)
        }
        Symbology::Ean13 | Symbology::UpcA => {
            let digits = retail_digits(symbology, content)?;
            (digits.clone(), vec![digits.clone()], digits)
        }
    };
    let symbol = draw(symbology, &writer_input)?;
    Ok(Barcode {
        symbology,
        data,
        hri,
        element_string,
        symbol,
    })
}

/// The 13 (EAN-13) or 12 (UPC-A) digits of a GTIN, check digit verified.
fn retail_digits(symbology: Symbology, content: &str) -> Result<String, FieldError> {
    let gtin = Gtin::parse(content)?;
    let g14 = format!("{gtin:0>14}");
    let keep = if symbology == Symbology::Ean13 {
        13
    } else {
        12
    };
    let (zeros, digits) = g14.split_at(14 - keep);
    if zeros.chars().any(|c| c != '0') {
        return Err(invalid(
            "invalid_gtin",
            format!(
                "GTIN {content} does not fit {symbology}: it needs a GTIN-{keep} (the leading digits of the GTIN-14 must be 0)"
            ),
        ));
    }
    Ok(digits.to_owned())
}

/// Square ECC 200 symbols; GS1 ones with FNC1 first.
fn data_matrix(symbology: Symbology, input: &str) -> Result<Symbol, FieldError> {
    let sizes = datamatrix::SymbolList::default().enforce_square();
    let encoded = if symbology == Symbology::Gs1Datamatrix {
        datamatrix::DataMatrix::encode_gs1(input.as_bytes(), sizes)
    } else {
        datamatrix::DataMatrix::encode_str(input, sizes)
    }
    .map_err(|e| {
        invalid(
            "unencodable",
            format!("the data cannot be encoded as {symbology}: {e:?}"),
        )
    })?;
    let bitmap = encoded.bitmap();
    Ok(Symbol::Matrix {
        width: u32::try_from(bitmap.width()).unwrap_or(u32::MAX),
        height: u32::try_from(bitmap.height()).unwrap_or(u32::MAX),
        dark: bitmap.bits().to_vec(),
    })
}

fn draw(symbology: Symbology, input: &str) -> Result<Symbol, FieldError> {
    let mut hints = EncodeHints::default().with(EncodeHintValue::Margin("0".to_owned()));
    match symbology {
        Symbology::Qr | Symbology::Gs1Qr | Symbology::DigitalLinkQr => {
            hints = hints
                .with(EncodeHintValue::ErrorCorrection("M".to_owned()))
                .with(EncodeHintValue::Gs1Format(symbology == Symbology::Gs1Qr));
            if symbology == Symbology::Qr && !input.is_ascii() {
                hints = hints.with(EncodeHintValue::CharacterSet("UTF-8".to_owned()));
            }
        }
        Symbology::DataMatrix | Symbology::Gs1Datamatrix => return data_matrix(symbology, input),
        _ => {}
    }
    let matrix = MultiFormatWriter
        .encode_with_hints(input, &symbology.format(), 0, 0, &hints)
        .map_err(|e| {
            invalid(
                "unencodable",
                format!("the data cannot be encoded as {symbology}: {e}"),
            )
        })?;
    let (w, h) = (matrix.getWidth(), matrix.getHeight());
    if symbology.is_linear() {
        Ok(Symbol::Linear((0..w).map(|x| matrix.get(x, 0)).collect()))
    } else {
        let mut dark = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                dark.push(matrix.get(x, y));
            }
        }
        Ok(Symbol::Matrix {
            width: w,
            height: h,
            dark,
        })
    }
}
