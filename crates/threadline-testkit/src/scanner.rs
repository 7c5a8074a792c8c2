//! A barcode scanner for tests: reads a rendered label picture back the way a scanner would,
//! so tests check that what Threadline prints carries what it meant to print.

use rxing::{BarcodeFormat, DecodeHintValue, DecodeHints};

/// What a scanner transmits: the symbology identifier (`]d2`, `]Q3`, `]C1`, `]E0` …) and the
/// data after it, with ASCII 29 (GS) where the symbol has an FNC1 separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub symbology_identifier: String,
    pub data: String,
}

impl Scanned {
    /// Identifier and data together, as a scanner in AIM mode sends them.
    pub fn transmitted(&self) -> String {
        format!("{}{}", self.symbology_identifier, self.data)
    }
}

/// Decodes the one barcode of `format` in an 8-bit grey picture (0 black).
pub fn scan_luma(
    luma: &[u8],
    width: u32,
    height: u32,
    format: BarcodeFormat,
) -> Result<Scanned, String> {
    // Scanners set up for GS1 send FNC1 separators in Code 128 as GS, as they do for the
    // other symbologies.
    let mut hints = DecodeHints::default()
        .with(DecodeHintValue::TryHarder(true))
        .with(DecodeHintValue::AssumeGs1(
            format == BarcodeFormat::CODE_128,
        ));
    let result = rxing::helpers::detect_in_luma_with_hints(
        luma.to_vec(),
        width,
        height,
        Some(format),
        &mut hints,
    )
    .map_err(|e| format!("no {format:?} found: {e:?}"))?;
    let identifier = result
        .getRXingResultMetadata()
        .get(&rxing::RXingResultMetadataType::SYMBOLOGY_IDENTIFIER)
        .map(|v| match v {
            rxing::RXingResultMetadataValue::SymbologyIdentifier(s) => s.clone(),
            other => format!("{other:?}"),
        })
        .unwrap_or_default();
    let mut text = result.getText();
    // rxing's Code 128 reader puts the GS1 identifier `]C1` at the start of the text.
    let mut identifier = identifier;
    if let Some(rest) = text.strip_prefix("]C1") {
        identifier = "]C1".to_owned();
        text = rest;
    }
    // rxing's Code 128 reader takes a check character of value 102 (the value of FNC1) for an
    // FNC1 and leaves a GS at the end; a scanner strips the check character whatever its value,
    // and a GS1 element string never ends with a separator. (Found by the round-trip property
    // test: serial `l3`, lot `lPiGI:` — the symbol's last data module pattern is 411131, the
    // check character, value 102.)
    if identifier == "]C1" {
        text = text.strip_suffix('\u{1d}').unwrap_or(text);
    }
    let data = text.to_owned();
    Ok(Scanned {
        symbology_identifier: identifier,
        data,
    })
}

/// Decodes the one barcode of `format` in a PNG.
pub fn scan_png(png_bytes: &[u8], format: BarcodeFormat) -> Result<Scanned, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader.output_buffer_size().ok_or("PNG too large")?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    let channels = frame.color_type.samples();
    let luma: Vec<u8> = buf[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|px| px[0])
        .collect();
    scan_luma(&luma, frame.width, frame.height, format)
}

pub use rxing::BarcodeFormat as Format;

/// A page of a PDF drawn as a scanner would see it: 8-bit grey (0 black), `scale` pixels per
/// point.
#[derive(Debug, Clone)]
pub struct PdfPage {
    pub luma: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl PdfPage {
    /// Decodes the one barcode of `format` on the page.
    pub fn scan(&self, format: BarcodeFormat) -> Result<Scanned, String> {
        scan_luma(&self.luma, self.width, self.height, format)
    }
}

/// Draws the pages of a PDF written by Threadline's label writer: each page's media box and
/// the filled rectangles of its content stream (`x y w h re`, one operator a line, the way
/// the writer draws bars and matrix modules). Text and pictures are not drawn. `pages` picks
/// which pages (0-based) to draw.
pub fn pdf_pages(pdf: &[u8], pages: &[usize], scale: f64) -> Result<Vec<PdfPage>, String> {
    let text: String = pdf
        .iter()
        .map(|&b| if b.is_ascii() { b as char } else { '\u{1}' })
        .collect();
    // The writer puts each page's content stream just before its page object, in page order.
    let mut out = Vec::new();
    let mut page_no = 0;
    let mut at = 0;
    while let Some(found) = text[at..].find(" 0 obj") {
        let start = at + found;
        let end = text[start..]
            .find("endobj")
            .map(|e| start + e)
            .ok_or("an object without endobj")?;
        let object = &text[start..end];
        at = end;
        if !object.contains("/Type /Page") || object.contains("/Type /Pages") {
            continue;
        }
        let this = page_no;
        page_no += 1;
        if !pages.contains(&this) {
            continue;
        }
        let media = object
            .split("/MediaBox [")
            .nth(1)
            .and_then(|m| m.split(']').next())
            .ok_or("a page without a media box")?;
        let nums: Vec<f64> = media
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        let (w_pt, h_pt) = match nums.as_slice() {
            [_, _, w, h] => (*w, *h),
            _ => return Err(format!("media box {media}")),
        };
        let contents: usize = object
            .split("/Contents ")
            .nth(1)
            .and_then(|c| c.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or("a page without contents")?;
        let header = format!("\n{contents} 0 obj");
        let stream_obj = text
            .find(&header)
            .map(|i| i + 1)
            .or_else(|| text.starts_with(&header[1..]).then_some(0))
            .ok_or_else(|| format!("object {contents} not found"))?;
        let data_start = text[stream_obj..]
            .find("stream\n")
            .map(|i| stream_obj + i + 7)
            .ok_or("no stream")?;
        let data_end = text[data_start..]
            .find("\nendstream")
            .map(|i| data_start + i)
            .ok_or("no endstream")?;
        let content = miniz_oxide::inflate::decompress_to_vec_zlib(&pdf[data_start..data_end])
            .map_err(|e| format!("content stream: {e:?}"))?;
        let (width, height) = ((w_pt * scale).round() as u32, (h_pt * scale).round() as u32);
        let mut luma = vec![255u8; (width * height) as usize];
        for line in String::from_utf8_lossy(&content).lines() {
            let Some(args) = line.strip_suffix(" re") else {
                continue;
            };
            let v: Vec<f64> = args
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            let [x, y, w, h] = v[..] else { continue };
            let px = |pt: f64, max: u32| ((pt * scale).round().max(0.0) as u32).min(max);
            let (x0, x1) = (px(x, width), px(x + w, width));
            let (y0, y1) = (px(h_pt - (y + h), height), px(h_pt - y, height));
            for row in y0..y1 {
                let base = (row * width) as usize;
                luma[base + x0 as usize..base + x1 as usize].fill(0);
            }
        }
        out.push(PdfPage {
            luma,
            width,
            height,
        });
    }
    if out.len() != pages.len() {
        return Err(format!(
            "asked for pages {pages:?}, the PDF has {page_no} pages"
        ));
    }
    Ok(out)
}

/// Reading the native barcode commands of a ZPL label back into what a scanner transmits
/// for the symbol the printer draws from them.
pub mod zpl {
    /// A `^GFA` graphic field as a printer draws it: 8-bit grey (0 black, one pixel a dot),
    /// with a quiet margin of `MARGIN` dots around it.
    #[derive(Debug, Clone)]
    pub struct Graphic {
        /// Where the field is on the label, in dots (`^FO`).
        pub x: u32,
        pub y: u32,
        pub luma: Vec<u8>,
        pub width: u32,
        pub height: u32,
    }

    /// White dots added around a graphic so a decoder finds its quiet zone.
    pub const MARGIN: u32 = 16;

    /// Every `^FOx,y^GFA,total,total,row_bytes,HEX^FS` graphic field of a ZPL format.
    pub fn graphics(format: &str) -> Result<Vec<Graphic>, String> {
        let mut out = Vec::new();
        for field in format.split("^FO").skip(1) {
            let Some((at, rest)) = field.split_once("^GFA,") else {
                continue;
            };
            let (x, y) = at
                .split_once(',')
                .and_then(|(x, y)| Some((x.parse::<u32>().ok()?, y.parse::<u32>().ok()?)))
                .ok_or_else(|| format!("^FO{at}"))?;
            let parts: Vec<&str> = rest.splitn(4, ',').collect();
            let [total, _, row_bytes, data] = parts[..] else {
                return Err(format!("^GFA,{rest}"));
            };
            let total: usize = total.parse().map_err(|_| format!("^GFA total {total}"))?;
            let row_bytes: usize = row_bytes
                .parse()
                .map_err(|_| format!("^GFA row bytes {row_bytes}"))?;
            let hex = data.split("^FS").next().unwrap_or("");
            if hex.len() != total * 2 || row_bytes == 0 {
                return Err(format!(
                    "^GFA of {total} bytes carries {} hex digits",
                    hex.len()
                ));
            }
            let rows = total / row_bytes;
            let width = row_bytes as u32 * 8 + 2 * MARGIN;
            let height = rows as u32 + 2 * MARGIN;
            let mut luma = vec![255u8; (width * height) as usize];
            for (i, pair) in hex.as_bytes().chunks(2).enumerate() {
                let byte = std::str::from_utf8(pair)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("a ^GFA byte that is not hex")?;
                let (row, col) = ((i / row_bytes) as u32, (i % row_bytes) as u32 * 8);
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        let px = (row + MARGIN) * width + col + bit + MARGIN;
                        luma[px as usize] = 0;
                    }
                }
            }
            out.push(Graphic {
                x,
                y,
                luma,
                width,
                height,
            });
        }
        Ok(out)
    }

    /// The field data (`^FD` … `^FS`) of the first field made with `command` (`^BXN,`,
    /// `^BQN,`, `^BCN,` …) in one ZPL format, with `^FH\` hex escapes read.
    pub fn field(format: &str, command: &str) -> Option<String> {
        let data = format
            .split(command)
            .nth(1)?
            .split("^FD")
            .nth(1)?
            .split("^FS")
            .next()?;
        let mut out = String::new();
        let mut chars = data.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            } else {
                out.push(c);
            }
        }
        Some(out)
    }

    /// A `^BX` Data Matrix field with `_` as escape character: `_1` first is FNC1 (GS1,
    /// `]d2`), later a GS; `__` is an underscore.
    pub fn data_matrix(field: &str) -> Result<String, String> {
        let gs1 = field.starts_with("_1");
        let mut data = String::new();
        let mut chars = field.chars().skip(if gs1 { 2 } else { 0 });
        while let Some(c) = chars.next() {
            match (c, c == '_') {
                (_, true) => match chars.next() {
                    Some('1') => data.push('\u{1d}'),
                    Some('_') => data.push('_'),
                    other => return Err(format!("_{other:?} in {field}")),
                },
                (c, false) => data.push(c),
            }
        }
        Ok(format!("{}{data}", if gs1 { "]d2" } else { "]d1" }))
    }

    /// A `^BQ` QR field: `MA,` (automatic mode) and the data.
    pub fn qr(field: &str) -> Result<String, String> {
        field
            .strip_prefix("MA,")
            .map(|d| format!("]Q1{d}"))
            .ok_or_else(|| format!("QR field without MA,: {field}"))
    }

    /// A `^BC` Code 128 field in mode N: start codes (`>;` C, `>:` B), subset switches (`>5`
    /// to C, `>6` to B), FNC1 (`>8`: first it makes the symbol GS1-128, `]C1`, later a GS),
    /// `><` for `>`. Subset C must hold digit pairs only.
    pub fn code128(field: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut gs1 = false;
        let mut chars = field.chars();
        let mut subset_c = false;
        while let Some(c) = chars.next() {
            match c {
                '>' => match chars.next() {
                    Some(';' | '5') => subset_c = true,
                    Some(':' | '6') => subset_c = false,
                    Some('8') if out.is_empty() && !gs1 => gs1 = true,
                    Some('8') => out.push('\u{1d}'),
                    Some('<') => out.push('>'),
                    other => return Err(format!(">{other:?} in {field}")),
                },
                c if subset_c => match chars.next() {
                    Some(d) if c.is_ascii_digit() && d.is_ascii_digit() => {
                        out.push(c);
                        out.push(d);
                    }
                    d => return Err(format!("subset C holds {c}{d:?} in {field}")),
                },
                c => out.push(c),
            }
        }
        Ok(format!("{}{out}", if gs1 { "]C1" } else { "]C0" }))
    }
}

impl zpl::Graphic {
    /// Decodes the one barcode of `format` in the graphic.
    pub fn scan(&self, format: BarcodeFormat) -> Result<Scanned, String> {
        scan_luma(&self.luma, self.width, self.height, format)
    }
}
