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
