//! Label templates as data: a size in millimetres, a resolution, and fields placed on it —
//! text, barcodes, a logo — whose contents are written with placeholders (`{serial}`,
//! `(01){gtin}(21){serial}`, `{expiry:%d.%m.%Y}`, `{attr.color}`).
//!
//! A template is read from JSON ([`LabelTemplate::from_json`], unknown keys refused naming
//! them), checked once ([`LabelTemplate::compile`], every problem named by its field path such
//! as `fields[2].data`), and then filled with the data of one item, lot or serial
//! ([`CompiledTemplate::label`]) into a [`Label`] that every output format draws.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use chrono::NaiveDate;
use chrono::format::StrftimeItems;
use serde::{Deserialize, Serialize};
use threadline_domain::error::{FieldError, Violations};

use crate::symbol::{self, Barcode, Symbology};

/// Placeholders that take a text value.
pub const TEXT_PLACEHOLDERS: [&str; 5] = ["serial", "product", "product_name", "gtin", "lot"];
/// Placeholders that take a date (and accept a `strftime` format: `{expiry:%y%m%d}`).
pub const DATE_PLACEHOLDERS: [&str; 2] = ["expiry", "production_date"];
/// Prefix of item and lot attributes: `{attr.color}`.
pub const ATTRIBUTE_PREFIX: &str = "attr.";

const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d";
/// Largest logo accepted, in pixels.
const MAX_LOGO_PIXELS: u64 = 1_000_000;

/// A label template as stored and sent over the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelTemplate {
    pub width_mm: f64,
    pub height_mm: f64,
    /// Printer resolution in dots per inch: PNG previews and ZPL are made at it.
    #[serde(default = "default_dpi")]
    pub dpi: u32,
    pub fields: Vec<Field>,
}

fn default_dpi() -> u32 {
    203
}

/// One thing printed on a label. Positions are the top-left corner, in millimetres from the
/// label's top-left corner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Field {
    Text(TextField),
    Barcode(BarcodeField),
    Logo(LogoField),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TextField {
    pub x_mm: f64,
    pub y_mm: f64,
    /// Height of the text (the em), in millimetres.
    pub size_mm: f64,
    /// The text, with placeholders.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BarcodeField {
    pub x_mm: f64,
    pub y_mm: f64,
    pub symbology: Symbology,
    /// The content, with placeholders: a bracketed element string for GS1 symbologies.
    pub data: String,
    /// Width of one module (narrowest bar, or matrix cell), in millimetres.
    pub module_mm: f64,
    /// Bar height of linear symbols (default 10 mm); matrix symbols are square.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_mm: Option<f64>,
    /// Print the human-readable interpretation under the symbol. Default: on for GS1
    /// symbologies (GS1 requires it) and Code 128, off for plain QR and Data Matrix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hri: Option<bool>,
    /// Text height of the interpretation (default 2.5 mm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hri_size_mm: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoField {
    pub x_mm: f64,
    pub y_mm: f64,
    pub width_mm: f64,
    pub height_mm: f64,
    /// The picture as a base64 PNG.
    pub png: String,
}

/// The values one label is filled with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelData {
    text: BTreeMap<String, String>,
    dates: BTreeMap<String, NaiveDate>,
}

impl LabelData {
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets a text placeholder (`serial`, `product`, …) or, with the `attr.` prefix, an
    /// attribute.
    pub fn set(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.text.insert(name.to_owned(), value.into());
        self
    }
    /// Sets an attribute: `{attr.NAME}`.
    pub fn set_attribute(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.set(&format!("{ATTRIBUTE_PREFIX}{name}"), value)
    }
    pub fn set_date(&mut self, name: &str, date: NaiveDate) -> &mut Self {
        self.dates.insert(name.to_owned(), date);
        self
    }
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }
    /// Sets every value of `other` on this one.
    pub fn merge(&mut self, other: &LabelData) -> &mut Self {
        self.text
            .extend(other.text.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.dates
            .extend(other.dates.iter().map(|(k, v)| (k.clone(), *v)));
        self
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.text.get(name).map(String::as_str)
    }
}

/// A piece of a text with placeholders.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Text(String),
    Date { name: String, format: String },
}

/// A text with its placeholders parsed.
#[derive(Debug, Clone, PartialEq)]
struct Pattern(Vec<Piece>);

impl Pattern {
    fn parse(s: &str) -> Result<Self, FieldError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(FieldError::new(
                        "invalid_placeholder",
                        "a `}` without its `{` (write `}}` for a brace)",
                    ));
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => inner.push(c),
                            None => {
                                return Err(FieldError::new(
                                    "invalid_placeholder",
                                    format!("placeholder {{{inner} is not closed with `}}`"),
                                ));
                            }
                        }
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Self::placeholder(&inner)?);
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Pattern(pieces))
    }

    fn placeholder(inner: &str) -> Result<Piece, FieldError> {
        let (name, format) = match inner.split_once(':') {
            Some((n, f)) => (n.trim(), Some(f)),
            None => (inner.trim(), None),
        };
        if DATE_PLACEHOLDERS.contains(&name) {
            let format = format.unwrap_or(DEFAULT_DATE_FORMAT).to_owned();
            if StrftimeItems::new(&format).parse().is_err() {
                return Err(FieldError::new(
                    "invalid_date_format",
                    format!("{{{name}}} has an invalid date format `{format}`"),
                ));
            }
            return Ok(Piece::Date {
                name: name.to_owned(),
                format,
            });
        }
        let known = TEXT_PLACEHOLDERS.contains(&name)
            || name
                .strip_prefix(ATTRIBUTE_PREFIX)
                .is_some_and(|a| !a.is_empty());
        if !known {
            return Err(FieldError::new(
                "unknown_placeholder",
                format!(
                    "unknown placeholder {{{name}}}; known: {}, {} and attr.NAME",
                    TEXT_PLACEHOLDERS.join(", "),
                    DATE_PLACEHOLDERS.join(", ")
                ),
            ));
        }
        if format.is_some() {
            return Err(FieldError::new(
                "invalid_placeholder",
                format!(
                    "{{{name}}} takes no format; only {} do",
                    DATE_PLACEHOLDERS.join(" and ")
                ),
            ));
        }
        Ok(Piece::Text(name.to_owned()))
    }

    fn is_literal(&self) -> bool {
        self.0.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    fn fill(&self, data: &LabelData) -> Result<String, FieldError> {
        let mut out = String::new();
        for piece in &self.0 {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Text(name) => {
                    out.push_str(data.text.get(name).ok_or_else(|| missing(name))?)
                }
                Piece::Date { name, format } => {
                    let date = data.dates.get(name).ok_or_else(|| missing(name))?;
                    out.push_str(&date.format(format).to_string());
                }
            }
        }
        Ok(out)
    }
}

fn missing(name: &str) -> FieldError {
    FieldError::new(
        "missing_value",
        format!("{{{name}}} has no value for this label"),
    )
}

/// A decoded logo: grey levels (0 black … 255 white) and the PNG it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub luma: Vec<u8>,
    pub png: Vec<u8>,
}

/// A filled label: everything placed, in millimetres from the top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub width_mm: f64,
    pub height_mm: f64,
    pub dpi: u32,
    pub marks: Vec<Mark>,
}

/// One thing drawn on a label.
#[derive(Debug, Clone, PartialEq)]
pub enum Mark {
    Text {
        x_mm: f64,
        y_mm: f64,
        size_mm: f64,
        text: String,
    },
    Barcode {
        x_mm: f64,
        y_mm: f64,
        module_mm: f64,
        /// Bar height of a linear symbol; a matrix is `module_mm` per row.
        height_mm: f64,
        barcode: Barcode,
    },
    Picture {
        x_mm: f64,
        y_mm: f64,
        width_mm: f64,
        height_mm: f64,
        picture: Arc<Picture>,
    },
}

impl Label {
    /// The barcodes on this label.
    pub fn barcodes(&self) -> impl Iterator<Item = &Barcode> {
        self.marks.iter().filter_map(|m| match m {
            Mark::Barcode { barcode, .. } => Some(barcode),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Compiled {
    Text {
        field: TextField,
        text: Pattern,
    },
    Barcode {
        field: BarcodeField,
        data: Pattern,
        /// The barcode, when the data has no placeholder: encoded once.
        fixed: Option<Barcode>,
    },
    Picture {
        field: LogoField,
        picture: Arc<Picture>,
    },
}

/// A checked template, ready to fill.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledTemplate {
    template: LabelTemplate,
    fields: Vec<Compiled>,
}

impl LabelTemplate {
    /// Reads a template from JSON; a wrong type or unknown key is an error naming its path.
    pub fn from_json(json: &str) -> Result<Self, FieldError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let err = FieldError::new("invalid_template", e.inner().to_string());
            if path == "." { err } else { err.at(path) }
        })
    }

    /// Checks the template and parses its placeholders, reporting every problem found.
    pub fn compile(&self) -> Result<CompiledTemplate, Violations> {
        let mut errors = Violations::new();
        let positive = |v: f64, field: &str, errors: &mut Violations| {
            if !(v.is_finite() && v > 0.0) {
                errors.push(FieldError::new("invalid_size", "must be more than 0").at(field));
            }
        };
        positive(self.width_mm, "width_mm", &mut errors);
        positive(self.height_mm, "height_mm", &mut errors);
        if self.width_mm > 1000.0 || self.height_mm > 1000.0 {
            errors.push(
                FieldError::new("invalid_size", "a label is at most 1000 mm on a side")
                    .at("width_mm"),
            );
        }
        if !(100..=1200).contains(&self.dpi) {
            errors.push(FieldError::new("invalid_dpi", "dpi must be 100 to 1200").at("dpi"));
        }
        if self.fields.is_empty() {
            errors.push(FieldError::new("empty", "a label needs at least one field").at("fields"));
        }
        let mut fields = Vec::with_capacity(self.fields.len());
        for (i, field) in self.fields.iter().enumerate() {
            let at = |name: &str| format!("fields[{i}].{name}");
            let (x, y) = field.position();
            let inside = |v: f64, max: f64| v.is_finite() && (0.0..max).contains(&v);
            if !inside(x, self.width_mm) {
                errors
                    .push(FieldError::new("outside_label", "is outside the label").at(at("x_mm")));
            }
            if !inside(y, self.height_mm) {
                errors
                    .push(FieldError::new("outside_label", "is outside the label").at(at("y_mm")));
            }
            let pattern = |s: &str, name: &str, errors: &mut Violations| match Pattern::parse(s) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(e.at(at(name)));
                    None
                }
            };
            match field {
                Field::Text(f) => {
                    positive(f.size_mm, &at("size_mm"), &mut errors);
                    if let Some(text) = pattern(&f.text, "text", &mut errors) {
                        fields.push(Compiled::Text {
                            field: f.clone(),
                            text,
                        });
                    }
                }
                Field::Barcode(f) => {
                    positive(f.module_mm, &at("module_mm"), &mut errors);
                    if f.module_mm * f64::from(self.dpi) / 25.4 < 0.999 {
                        errors.push(
                            FieldError::new(
                                "module_too_small",
                                format!(
                                    "a module of {} mm is less than one dot at {} dpi",
                                    f.module_mm, self.dpi
                                ),
                            )
                            .at(at("module_mm")),
                        );
                    }
                    if let Some(h) = f.height_mm {
                        positive(h, &at("height_mm"), &mut errors);
                    }
                    if let Some(h) = f.hri_size_mm {
                        positive(h, &at("hri_size_mm"), &mut errors);
                    }
                    let Some(data) = pattern(&f.data, "data", &mut errors) else {
                        continue;
                    };
                    let fixed = if data.is_literal() {
                        match symbol::encode(
                            f.symbology,
                            &f.data.replace("{{", "{").replace("}}", "}"),
                        ) {
                            Ok(b) => Some(b),
                            Err(e) => {
                                errors.push(e.at(at("data")));
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    fields.push(Compiled::Barcode {
                        field: f.clone(),
                        data,
                        fixed,
                    });
                }
                Field::Logo(f) => {
                    positive(f.width_mm, &at("width_mm"), &mut errors);
                    positive(f.height_mm, &at("height_mm"), &mut errors);
                    match decode_png(&f.png) {
                        Ok(picture) => fields.push(Compiled::Picture {
                            field: f.clone(),
                            picture: Arc::new(picture),
                        }),
                        Err(e) => errors.push(e.at(at("png"))),
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(CompiledTemplate {
                template: self.clone(),
                fields,
            })
        } else {
            Err(errors)
        }
    }
}

impl Field {
    fn position(&self) -> (f64, f64) {
        match self {
            Field::Text(f) => (f.x_mm, f.y_mm),
            Field::Barcode(f) => (f.x_mm, f.y_mm),
            Field::Logo(f) => (f.x_mm, f.y_mm),
        }
    }
}

impl CompiledTemplate {
    pub fn template(&self) -> &LabelTemplate {
        &self.template
    }

    /// Fills the template with one label's data. An error names the template field
    /// (`fields[1].data`) and what is wrong (a value missing, data a symbology cannot carry).
    pub fn label(&self, data: &LabelData) -> Result<Label, FieldError> {
        let t = &self.template;
        let mut marks = Vec::with_capacity(self.fields.len() + 2);
        for (i, compiled) in self.fields.iter().enumerate() {
            match compiled {
                Compiled::Text { field, text } => marks.push(Mark::Text {
                    x_mm: field.x_mm,
                    y_mm: field.y_mm,
                    size_mm: field.size_mm,
                    text: text
                        .fill(data)
                        .map_err(|e| e.at(format!("fields[{i}].text")))?,
                }),
                Compiled::Barcode {
                    field,
                    data: pattern,
                    fixed,
                } => {
                    let barcode = match fixed {
                        Some(b) => b.clone(),
                        None => {
                            let content = pattern
                                .fill(data)
                                .map_err(|e| e.at(format!("fields[{i}].data")))?;
                            symbol::encode(field.symbology, &content)
                                .map_err(|e| e.at(format!("fields[{i}].data")))?
                        }
                    };
                    place_barcode(field, barcode, &mut marks);
                }
                Compiled::Picture { field, picture } => marks.push(Mark::Picture {
                    x_mm: field.x_mm,
                    y_mm: field.y_mm,
                    width_mm: field.width_mm,
                    height_mm: field.height_mm,
                    picture: Arc::clone(picture),
                }),
            }
        }
        Ok(Label {
            width_mm: t.width_mm,
            height_mm: t.height_mm,
            dpi: t.dpi,
            marks,
        })
    }
}

/// The symbol, and its interpretation lines under it.
fn place_barcode(field: &BarcodeField, barcode: Barcode, marks: &mut Vec<Mark>) {
    let symbology = barcode.symbology();
    let height_mm = if symbology.is_linear() {
        field.height_mm.unwrap_or(10.0)
    } else {
        match barcode.symbol() {
            symbol::Symbol::Matrix { height, .. } => f64::from(*height) * field.module_mm,
            symbol::Symbol::Linear(_) => field.module_mm,
        }
    };
    let show_hri = field
        .hri
        .unwrap_or(symbology.is_gs1() || symbology == Symbology::Code128);
    let size = field.hri_size_mm.unwrap_or(2.5);
    let mut y = field.y_mm + height_mm + size * 0.25;
    let lines: Vec<String> = if show_hri {
        barcode.hri().to_vec()
    } else {
        Vec::new()
    };
    marks.push(Mark::Barcode {
        x_mm: field.x_mm,
        y_mm: field.y_mm,
        module_mm: field.module_mm,
        height_mm,
        barcode,
    });
    for line in lines {
        marks.push(Mark::Text {
            x_mm: field.x_mm,
            y_mm: y,
            size_mm: size,
            text: line,
        });
        y += size * 1.15;
    }
}

/// Decodes a base64 PNG into grey levels, transparent parts on white.
fn decode_png(b64: &str) -> Result<Picture, FieldError> {
    let bad = |m: String| FieldError::new("invalid_logo", m);
    let png = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| bad(format!("the logo is not base64: {e}")))?;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(&png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder
        .read_info()
        .map_err(|e| bad(format!("the logo is not a PNG: {e}")))?;
    let (width, height) = (reader.info().width, reader.info().height);
    if u64::from(width) * u64::from(height) > MAX_LOGO_PIXELS {
        return Err(bad(format!(
            "the logo has {width}×{height} pixels; at most {MAX_LOGO_PIXELS} are accepted"
        )));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| bad("the logo is too large".to_owned()))?;
    let mut buf = vec![0; size];
    let frame = reader
        .next_frame(&mut buf)
        .map_err(|e| bad(format!("the logo is not a readable PNG: {e}")))?;
    let channels = frame.color_type.samples();
    let luma = buf[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|px| {
            let (grey, alpha) = match px {
                [g] => (u32::from(*g), 255),
                [g, a] => (u32::from(*g), u32::from(*a)),
                [r, g, b] => (
                    (u32::from(*r) * 299 + u32::from(*g) * 587 + u32::from(*b) * 114) / 1000,
                    255,
                ),
                [r, g, b, a] => (
                    (u32::from(*r) * 299 + u32::from(*g) * 587 + u32::from(*b) * 114) / 1000,
                    u32::from(*a),
                ),
                _ => (255, 255),
            };
            ((grey * alpha + 255 * (255 - alpha)) / 255) as u8
        })
        .collect();
    Ok(Picture {
        width,
        height,
        luma,
        png,
    })
}
