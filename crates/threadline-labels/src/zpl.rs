//! Labels as ZPL II for Zebra-compatible thermal printers.
//!
//! Barcodes are native printer commands where ZPL can say exactly the same symbol: `^BQ` (QR),
//! `^BX` (Data Matrix ECC 200, FNC1 as `_1`, size forced to the one Threadline verified),
//! `^BC` (Code 128 in mode N with explicit start codes, subset switches and FNC1 `>8`),
//! `^BE` (EAN-13) and `^BU` (UPC-A). GS1 QR (FNC1 mode), which `^BQ` cannot express, and data
//! outside what a command carries safely, are sent as a graphic field (`^GF`) of the verified
//! symbol. Latin text uses the printer's scalable font 0; any other text (Chinese) is a
//! graphic field drawn from GNU Unifont at the printer's resolution. Field data goes through
//! `^FH\` so `^`, `~` and `\` never reach the printer's command parser.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::raster::{self, Bitmap, dots, module_dots};
use crate::symbol::{Barcode, Symbol, Symbology};
use crate::template::{Label, Mark};

/// Escapes field data for `^FH\`: the command characters become hex escapes.
fn hex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '^' => out.push_str("\\5E"),
            '~' => out.push_str("\\7E"),
            '\\' => out.push_str("\\5C"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// One label as a ZPL format (`^XA` … `^XZ`).
pub fn render(label: &Label) -> String {
    let dpi = label.dpi;
    let mut z = String::new();
    let _ = writeln!(
        z,
        "^XA^CI28^PW{}^LL{}^LH0,0",
        dots(label.width_mm, dpi),
        dots(label.height_mm, dpi)
    );
    for mark in &label.marks {
        match mark {
            Mark::Text {
                x_mm,
                y_mm,
                size_mm,
                text,
            } => {
                let (x, y, h) = (
                    dots(*x_mm, dpi),
                    dots(*y_mm, dpi),
                    dots(*size_mm, dpi).max(1),
                );
                if text.chars().all(|c| (' '..='~').contains(&c)) {
                    let _ = writeln!(z, "^FO{x},{y}^A0N,{h},{h}^FH\\^FD{}^FS", hex_escape(text));
                } else {
                    let mut bmp = Bitmap::new(raster::text_width(text, h).max(1), h);
                    raster::draw_text(&mut bmp, 0, 0, h, text);
                    graphic(&mut z, x, y, &bmp);
                }
            }
            Mark::Barcode {
                x_mm,
                y_mm,
                module_mm,
                height_mm,
                barcode,
            } => barcode_field(
                &mut z,
                dots(*x_mm, dpi),
                dots(*y_mm, dpi),
                module_dots(*module_mm, dpi),
                dots(*height_mm, dpi).max(1),
                barcode,
            ),
            Mark::Picture {
                x_mm,
                y_mm,
                width_mm,
                height_mm,
                picture,
            } => {
                let (w, h) = (dots(*width_mm, dpi).max(1), dots(*height_mm, dpi).max(1));
                let mut bmp = Bitmap::new(w, h);
                raster::draw_picture(&mut bmp, 0, 0, w, h, picture);
                graphic(&mut z, dots(*x_mm, dpi), dots(*y_mm, dpi), &bmp);
            }
        }
    }
    z.push_str("^XZ\n");
    z
}

/// A `^GFA` graphic field: 1 bit per dot, 1 is black, rows padded to whole bytes.
fn graphic(z: &mut String, x: u32, y: u32, bmp: &Bitmap) {
    let row_bytes = bmp.width.div_ceil(8);
    let total = row_bytes * bmp.height;
    let _ = write!(z, "^FO{x},{y}^GFA,{total},{total},{row_bytes},");
    for py in 0..bmp.height {
        for byte in 0..row_bytes {
            let mut v = 0u8;
            for bit in 0..8 {
                if bmp.is_dark(byte * 8 + bit, py) {
                    v |= 0x80 >> bit;
                }
            }
            let _ = write!(z, "{v:02X}");
        }
    }
    z.push_str("^FS\n");
}

fn symbol_graphic(z: &mut String, x: u32, y: u32, module: u32, bar_height: u32, symbol: &Symbol) {
    let rows = match symbol {
        Symbol::Linear(_) => bar_height,
        Symbol::Matrix { height, .. } => height * module,
    };
    let mut bmp = Bitmap::new(symbol.width() * module, rows);
    raster::draw_symbol(&mut bmp, 0, 0, module, bar_height, symbol);
    graphic(z, x, y, &bmp);
}

fn barcode_field(z: &mut String, x: u32, y: u32, module: u32, bar_height: u32, barcode: &Barcode) {
    let data = barcode.data();
    let symbol = barcode.symbol();
    match barcode.symbology() {
        Symbology::Qr | Symbology::DigitalLinkQr if module <= 10 => {
            let _ = writeln!(
                z,
                "^FO{x},{y}^BQN,2,{module}^FH\\^FDMA,{}^FS",
                hex_escape(data)
            );
        }
        Symbology::DataMatrix | Symbology::Gs1Datamatrix if data.is_ascii() => {
            let (cols, rows) = match symbol {
                Symbol::Matrix { width, height, .. } => (*width, *height),
                Symbol::Linear(_) => (0, 0),
            };
            let mut field = String::new();
            if barcode.symbology() == Symbology::Gs1Datamatrix {
                field.push_str("_1");
            }
            for c in data.chars() {
                match c {
                    threadline_gs1::element::GS
                        if barcode.symbology() == Symbology::Gs1Datamatrix =>
                    {
                        field.push_str("_1")
                    }
                    '_' => field.push_str("__"),
                    c => field.push(c),
                }
            }
            let _ = writeln!(
                z,
                "^FO{x},{y}^BXN,{module},200,{cols},{rows},,_^FH\\^FD{}^FS",
                hex_escape(&field)
            );
        }
        Symbology::Code128 | Symbology::Gs1_128 => {
            let gs1 = barcode.symbology() == Symbology::Gs1_128;
            let _ = writeln!(
                z,
                "^BY{module}^FO{x},{y}^BCN,{bar_height},N,N,N,N^FH\\^FD{}^FS",
                code128_data(data, gs1)
            );
        }
        Symbology::Ean13 => {
            let _ = writeln!(
                z,
                "^BY{module}^FO{x},{y}^BEN,{bar_height},N,N^FD{}^FS",
                &data[..data.len().saturating_sub(1)]
            );
        }
        Symbology::UpcA => {
            let _ = writeln!(
                z,
                "^BY{module}^FO{x},{y}^BUN,{bar_height},N,N,Y^FD{}^FS",
                &data[..data.len().saturating_sub(1)]
            );
        }
        _ => symbol_graphic(z, x, y, module, bar_height, symbol),
    }
}

/// Code 128 field data for `^BC` mode N: the start code, subset switches (`>5` to C, `>6` to
/// B) and FNC1 (`>8`) written out, so the printer encodes exactly these code sets. Subset C
/// is used for runs of four or more digits (and from the start after a GS1 FNC1).
pub fn code128_data(data: &str, gs1: bool) -> String {
    #[derive(PartialEq)]
    enum Token {
        Fnc1,
        Char(char),
    }
    let mut tokens = Vec::with_capacity(data.len() + 1);
    if gs1 {
        tokens.push(Token::Fnc1);
    }
    for c in data.chars() {
        tokens.push(if gs1 && c == threadline_gs1::element::GS {
            Token::Fnc1
        } else {
            Token::Char(c)
        });
    }
    let digits_from = |i: usize| {
        tokens[i..]
            .iter()
            .take_while(|t| matches!(t, Token::Char(c) if c.is_ascii_digit()))
            .count()
    };
    let lead = if tokens.first() == Some(&Token::Fnc1) {
        1
    } else {
        0
    };
    let mut in_c = digits_from(lead) >= 4 || (lead == 1 && digits_from(1) >= 2);
    let mut out = String::from(if in_c { ">;" } else { ">:" });
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Fnc1 => {
                out.push_str(">8");
                i += 1;
            }
            Token::Char(c) if in_c => {
                if digits_from(i) >= 2 {
                    out.push(*c);
                    if let Token::Char(d) = &tokens[i + 1] {
                        out.push(*d);
                    }
                    i += 2;
                } else {
                    out.push_str(">6");
                    in_c = false;
                }
            }
            Token::Char(c) => {
                let run = digits_from(i);
                if run >= 4 && run % 2 == 0 {
                    out.push_str(">5");
                    in_c = true;
                    continue;
                }
                match c {
                    '>' => out.push_str("><"),
                    c => out.push_str(&hex_escape(&c.to_string())),
                }
                i += 1;
            }
        }
    }
    out
}

/// Writes `labels` as ZPL, one format per label.
pub fn write_all<'a, W: Write>(
    mut out: W,
    labels: impl IntoIterator<Item = &'a Label>,
) -> io::Result<W> {
    for label in labels {
        out.write_all(render(label).as_bytes())?;
    }
    out.flush()?;
    Ok(out)
}
