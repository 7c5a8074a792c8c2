//! Labels as pictures at the printer's resolution: PNG previews, and the graphic fields of ZPL.
//!
//! Text is drawn from GNU Unifont (static bitmaps of every Unicode BMP glyph, Chinese
//! included), so a label renders the same on any machine without a font file. Barcode modules
//! are a whole number of dots wide, as a printer prints them.

use crate::symbol::Symbol;
use crate::template::{Label, Mark, Picture};

/// Millimetres to dots at `dpi`.
pub fn dots(mm: f64, dpi: u32) -> u32 {
    let d = (mm * f64::from(dpi) / 25.4).round();
    if d.is_finite() && d > 0.0 {
        d.min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

/// Width of one barcode module in dots: never less than one.
pub fn module_dots(module_mm: f64, dpi: u32) -> u32 {
    dots(module_mm, dpi).max(1)
}

/// A grey picture: 0 is black, 255 white.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: u32,
    pub height: u32,
    pub luma: Vec<u8>,
}

impl Bitmap {
    /// A white picture.
    pub fn new(width: u32, height: u32) -> Self {
        Bitmap {
            width,
            height,
            luma: vec![255; width as usize * height as usize],
        }
    }

    /// Paints a rectangle, clipped to the picture.
    pub fn fill(&mut self, x: u32, y: u32, w: u32, h: u32, value: u8) {
        let x1 = x.saturating_add(w).min(self.width);
        let y1 = y.saturating_add(h).min(self.height);
        for row in y.min(self.height)..y1 {
            let start = row as usize * self.width as usize;
            self.luma[start + x.min(x1) as usize..start + x1 as usize].fill(value);
        }
    }

    fn set(&mut self, x: u32, y: u32, value: u8) {
        if x < self.width && y < self.height {
            self.luma[y as usize * self.width as usize + x as usize] = value;
        }
    }

    /// Whether the dot at `(x, y)` prints (darker than mid-grey).
    pub fn is_dark(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.luma[y as usize * self.width as usize + x as usize] < 128
    }

    /// The picture as an 8-bit greyscale PNG that says it is `dpi` dots per inch.
    pub fn to_png(&self, dpi: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.width, self.height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let per_metre = (f64::from(dpi) / 0.0254).round() as u32;
        encoder.set_pixel_dims(Some(png::PixelDimensions {
            xppu: per_metre,
            yppu: per_metre,
            unit: png::Unit::Meter,
        }));
        // Writing to a Vec cannot fail once the header is valid (a non-zero size, which
        // `render` guarantees); an empty result would be the visible sign otherwise.
        if let Ok(mut writer) = encoder.write_header() {
            let _ = writer.write_image_data(&self.luma);
        }
        out
    }
}

/// A label as a PNG at its resolution.
pub fn png(label: &Label) -> Vec<u8> {
    render(label).to_png(label.dpi)
}

/// Draws a whole label at its resolution.
pub fn render(label: &Label) -> Bitmap {
    let dpi = label.dpi;
    let mut bmp = Bitmap::new(
        dots(label.width_mm, dpi).max(1),
        dots(label.height_mm, dpi).max(1),
    );
    for mark in &label.marks {
        match mark {
            Mark::Text {
                x_mm,
                y_mm,
                size_mm,
                text,
            } => draw_text(
                &mut bmp,
                dots(*x_mm, dpi),
                dots(*y_mm, dpi),
                dots(*size_mm, dpi).max(1),
                text,
            ),
            Mark::Barcode {
                x_mm,
                y_mm,
                module_mm,
                height_mm,
                barcode,
            } => draw_symbol(
                &mut bmp,
                dots(*x_mm, dpi),
                dots(*y_mm, dpi),
                module_dots(*module_mm, dpi),
                dots(*height_mm, dpi).max(1),
                barcode.symbol(),
            ),
            Mark::Picture {
                x_mm,
                y_mm,
                width_mm,
                height_mm,
                picture,
            } => draw_picture(
                &mut bmp,
                dots(*x_mm, dpi),
                dots(*y_mm, dpi),
                dots(*width_mm, dpi),
                dots(*height_mm, dpi),
                picture,
            ),
        }
    }
    bmp
}

/// Draws a symbol with its top-left module at `(x, y)`, `module` dots per module; a linear
/// symbol's bars are `bar_height` dots high.
pub fn draw_symbol(
    bmp: &mut Bitmap,
    x: u32,
    y: u32,
    module: u32,
    bar_height: u32,
    symbol: &Symbol,
) {
    match symbol {
        Symbol::Linear(_) => {
            for (start, len) in symbol.runs(0) {
                bmp.fill(x + start * module, y, len * module, bar_height, 0);
            }
        }
        Symbol::Matrix { height, .. } => {
            for row in 0..*height {
                for (start, len) in symbol.runs(row) {
                    bmp.fill(
                        x + start * module,
                        y + row * module,
                        len * module,
                        module,
                        0,
                    );
                }
            }
        }
    }
}

/// The Unifont glyph of `c`, or of `?` for characters outside the font.
fn glyph(c: char) -> &'static unifont::Glyph {
    unifont::get_glyph(c)
        .or_else(|| unifont::get_glyph('?'))
        .unwrap_or(&unifont::Glyph::Halfwidth([0; 16]))
}

/// Width in dots of `text` drawn `height` dots high.
pub fn text_width(text: &str, height: u32) -> u32 {
    text.chars().map(|c| glyph_width(glyph(c), height)).sum()
}

fn glyph_width(g: &unifont::Glyph, height: u32) -> u32 {
    (g.get_width() as u32 * height).div_ceil(16)
}

/// Draws `text` with its top-left corner at `(x, y)`, `height` dots high (the em).
pub fn draw_text(bmp: &mut Bitmap, x: u32, y: u32, height: u32, text: &str) {
    let mut pen = x;
    for c in text.chars() {
        let g = glyph(c);
        let w = glyph_width(g, height);
        for oy in 0..height {
            let sy = (oy * 16 / height) as usize;
            for ox in 0..w {
                let sx = (ox * 16 / height) as usize;
                if g.get_pixel(sx, sy) {
                    bmp.set(pen + ox, y + oy, 0);
                }
            }
        }
        pen += w;
    }
}

pub(crate) fn draw_picture(bmp: &mut Bitmap, x: u32, y: u32, w: u32, h: u32, picture: &Picture) {
    if picture.width == 0 || picture.height == 0 {
        return;
    }
    for oy in 0..h {
        let sy = (u64::from(oy) * u64::from(picture.height) / u64::from(h)) as usize;
        for ox in 0..w {
            let sx = (u64::from(ox) * u64::from(picture.width) / u64::from(w)) as usize;
            let v = picture.luma[sy * picture.width as usize + sx];
            if v < 255 {
                bmp.set(x + ox, y + oy, v);
            }
        }
    }
}
