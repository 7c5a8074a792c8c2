//! Labels as SVG, in millimetres: barcodes as one path of module rectangles each (exact at any
//! zoom), text as text, a logo as the PNG it was given.

use std::fmt::Write;

use base64::Engine;

use crate::symbol::Symbol;
use crate::template::{Label, Mark};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The label as an SVG document.
pub fn render(label: &Label) -> String {
    let (w, h) = (label.width_mm, label.height_mm);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" viewBox="0 0 {w} {h}"><rect width="{w}" height="{h}" fill="white"/>"#
    );
    for mark in &label.marks {
        match mark {
            Mark::Text {
                x_mm,
                y_mm,
                size_mm,
                text,
            } => {
                let _ = write!(
                    out,
                    r#"<text x="{x_mm}" y="{}" font-family="sans-serif" font-size="{size_mm}">{}</text>"#,
                    y_mm + size_mm * 0.8,
                    escape(text)
                );
            }
            Mark::Barcode {
                x_mm,
                y_mm,
                module_mm,
                height_mm,
                barcode,
            } => {
                let symbol = barcode.symbol();
                let _ = write!(
                    out,
                    r#"<path transform="translate({x_mm} {y_mm}) scale({module_mm})" fill="black" d=""#
                );
                match symbol {
                    Symbol::Linear(_) => {
                        let bar = height_mm / module_mm;
                        for (x, len) in symbol.runs(0) {
                            let _ = write!(out, "M{x} 0h{len}v{bar}h-{len}z");
                        }
                    }
                    Symbol::Matrix { height, .. } => {
                        for y in 0..*height {
                            for (x, len) in symbol.runs(y) {
                                let _ = write!(out, "M{x} {y}h{len}v1h-{len}z");
                            }
                        }
                    }
                }
                out.push_str(r#""/>"#);
            }
            Mark::Picture {
                x_mm,
                y_mm,
                width_mm,
                height_mm,
                picture,
            } => {
                let _ = write!(
                    out,
                    r#"<image x="{x_mm}" y="{y_mm}" width="{width_mm}" height="{height_mm}" preserveAspectRatio="none" href="data:image/png;base64,{}"/>"#,
                    base64::engine::general_purpose::STANDARD.encode(&picture.png)
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}
