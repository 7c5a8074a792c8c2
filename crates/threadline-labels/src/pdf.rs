//! Labels as PDF, written as they come: [`PdfLabels`] writes each page to its output as soon
//! as it is full, so ten thousand labels never sit in memory — only one page's content and,
//! per page and object, a few bytes for the cross-reference table at the end.
//!
//! Objects are made with `pdf-writer`, one object per chunk, so each object's byte offset is
//! where its chunk starts; the page tree, catalogue and cross-reference table are written at
//! the end. Barcodes are filled rectangles (vector, exact at any printer resolution). Text in
//! Latin script uses the standard Helvetica; other text (Chinese) uses the Adobe-GB1 standard
//! font STSong-Light, which PDF readers provide (it is not embedded).

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use miniz_oxide::deflate::{CompressionLevel, compress_to_vec_zlib};
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::writers::Catalog;
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref, Str};

use crate::symbol::Symbol;
use crate::template::{Label, Mark, Picture};

const PT_PER_MM: f64 = 72.0 / 25.4;

fn pt(mm: f64) -> f32 {
    (mm * PT_PER_MM) as f32
}

/// How labels are put on pages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PdfLayout {
    /// One label per page, the page the size of the label: for roll (thermal) printers.
    Roll,
    /// As many labels per page as fit on a sheet, row by row.
    Sheet {
        page_width_mm: f64,
        page_height_mm: f64,
        margin_mm: f64,
        gap_mm: f64,
    },
}

impl PdfLayout {
    /// A4 portrait with 5 mm margins and 2 mm between labels.
    pub const A4: PdfLayout = PdfLayout::Sheet {
        page_width_mm: 210.0,
        page_height_mm: 297.0,
        margin_mm: 5.0,
        gap_mm: 2.0,
    };

    /// Page size and the top-left corner of each label slot, for labels of the given size.
    fn slots(&self, label_w: f64, label_h: f64) -> (f64, f64, Vec<(f64, f64)>) {
        match *self {
            PdfLayout::Roll => (label_w, label_h, vec![(0.0, 0.0)]),
            PdfLayout::Sheet {
                page_width_mm,
                page_height_mm,
                margin_mm,
                gap_mm,
            } => {
                let fit = |page: f64, label: f64| {
                    (((page - 2.0 * margin_mm + gap_mm) / (label + gap_mm)).floor() as usize).max(1)
                };
                let (cols, rows) = (fit(page_width_mm, label_w), fit(page_height_mm, label_h));
                let mut slots = Vec::with_capacity(cols * rows);
                for r in 0..rows {
                    for c in 0..cols {
                        slots.push((
                            margin_mm + c as f64 * (label_w + gap_mm),
                            margin_mm + r as f64 * (label_h + gap_mm),
                        ));
                    }
                }
                (page_width_mm, page_height_mm, slots)
            }
        }
    }
}

/// Counts what has been written, for object offsets.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// A PDF of labels being written to `W`.
pub struct PdfLabels<W: Write> {
    out: Counting<W>,
    layout: PdfLayout,
    /// Byte offset of object `i + 1`.
    offsets: Vec<u64>,
    next_id: i32,
    pages_ref: Ref,
    latin_font: Ref,
    cjk_font: Ref,
    pages: Vec<Ref>,
    /// The page being filled: its size, slots, content and pictures.
    page: Option<PageInProgress>,
    pictures: HashMap<*const Picture, (Ref, Arc<Picture>)>,
}

struct PageInProgress {
    width_mm: f64,
    height_mm: f64,
    slots: Vec<(f64, f64)>,
    used: usize,
    content: Content,
    pictures: Vec<Ref>,
}

impl<W: Write> PdfLabels<W> {
    /// Starts a PDF on `out`: writes the header and the fonts.
    pub fn new(out: W, layout: PdfLayout) -> io::Result<Self> {
        let mut pdf = PdfLabels {
            out: Counting {
                inner: out,
                written: 0,
            },
            layout,
            offsets: Vec::new(),
            next_id: 1,
            pages_ref: Ref::new(1),
            latin_font: Ref::new(1),
            cjk_font: Ref::new(1),
            pages: Vec::new(),
            page: None,
            pictures: HashMap::new(),
        };
        pdf.out.put(b"%PDF-1.7\n%\x80\x80\x80\x80\n")?;
        pdf.pages_ref = pdf.reserve();
        pdf.latin_font = pdf.reserve();
        pdf.cjk_font = pdf.reserve();
        let (cid, descriptor) = (pdf.reserve(), pdf.reserve());

        let latin = pdf.latin_font;
        pdf.object(latin, |c| {
            c.type1_font(latin)
                .base_font(Name(b"Helvetica"))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        })?;
        let cjk = pdf.cjk_font;
        pdf.object(cjk, |c| {
            c.type0_font(cjk)
                .base_font(Name(b"STSong-Light-UniGB-UCS2-H"))
                .encoding_predefined(Name(b"UniGB-UCS2-H"))
                .descendant_font(cid);
        })?;
        pdf.object(cid, |c| {
            c.cid_font(cid)
                .subtype(CidFontType::Type0)
                .base_font(Name(b"STSong-Light"))
                .system_info(SystemInfo {
                    registry: Str(b"Adobe"),
                    ordering: Str(b"GB1"),
                    supplement: 4,
                })
                .font_descriptor(descriptor)
                .default_width(1000.0);
        })?;
        pdf.object(descriptor, |c| {
            c.font_descriptor(descriptor)
                .name(Name(b"STSong-Light"))
                .flags(FontFlags::NON_SYMBOLIC)
                .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
                .italic_angle(0.0)
                .ascent(880.0)
                .descent(-120.0)
                .cap_height(880.0)
                .stem_v(93.0);
        })?;
        Ok(pdf)
    }

    fn reserve(&mut self) -> Ref {
        let r = Ref::new(self.next_id);
        self.next_id += 1;
        self.offsets.push(0);
        r
    }

    /// Writes one object, recording where it starts.
    fn object(&mut self, id: Ref, write: impl FnOnce(&mut Chunk)) -> io::Result<()> {
        let mut chunk = Chunk::new();
        write(&mut chunk);
        let index = usize::try_from(id.get() - 1).unwrap_or(usize::MAX);
        if let Some(slot) = self.offsets.get_mut(index) {
            *slot = self.out.written;
        }
        self.out.put(chunk.as_bytes())
    }

    /// Pages written so far (including the one being filled).
    pub fn page_count(&self) -> usize {
        self.pages.len() + usize::from(self.page.is_some())
    }

    /// Adds a label on the next free slot, starting a page when the current one is full.
    pub fn add(&mut self, label: &Label) -> io::Result<()> {
        if self.page.as_ref().is_some_and(|p| p.used == p.slots.len()) {
            self.flush_page()?;
        }
        if self.page.is_none() {
            let (w, h, slots) = self.layout.slots(label.width_mm, label.height_mm);
            self.page = Some(PageInProgress {
                width_mm: w,
                height_mm: h,
                slots,
                used: 0,
                content: Content::new(),
                pictures: Vec::new(),
            });
        }
        let mut new_pictures = Vec::new();
        for mark in &label.marks {
            if let Mark::Picture { picture, .. } = mark {
                let key = Arc::as_ptr(picture);
                if !self.pictures.contains_key(&key) {
                    let id = self.reserve();
                    self.pictures.insert(key, (id, Arc::clone(picture)));
                    new_pictures.push((id, Arc::clone(picture)));
                }
            }
        }
        for (id, picture) in new_pictures {
            let samples = compress_to_vec_zlib(&picture.luma, CompressionLevel::DefaultLevel as u8);
            self.object(id, |c| {
                let mut image = c.image_xobject(id, &samples);
                image.filter(Filter::FlateDecode);
                image.width(i32::try_from(picture.width).unwrap_or(i32::MAX));
                image.height(i32::try_from(picture.height).unwrap_or(i32::MAX));
                image.color_space().device_gray();
                image.bits_per_component(8);
            })?;
        }
        let Some(page) = self.page.as_mut() else {
            return Ok(());
        };
        let (sx, sy) = page.slots[page.used];
        page.used += 1;
        let page_h = page.height_mm;
        // PDF's origin is the bottom-left corner; a label's is its top-left corner.
        let x = |mm: f64| pt(sx + mm);
        let y = |mm: f64| pt(page_h - (sy + mm));
        let content = &mut page.content;
        content.set_fill_gray(0.0);
        for mark in &label.marks {
            match mark {
                Mark::Text {
                    x_mm,
                    y_mm,
                    size_mm,
                    text,
                } => {
                    let (font, bytes) = match latin1(text) {
                        Some(bytes) => (Name(b"F1"), bytes),
                        None => (Name(b"F2"), ucs2(text)),
                    };
                    content
                        .begin_text()
                        .set_font(font, pt(*size_mm))
                        .set_text_matrix([1.0, 0.0, 0.0, 1.0, x(*x_mm), y(y_mm + size_mm * 0.8)])
                        .show(Str(&bytes))
                        .end_text();
                }
                Mark::Barcode {
                    x_mm,
                    y_mm,
                    module_mm,
                    height_mm,
                    barcode,
                } => {
                    let symbol = barcode.symbol();
                    let m = *module_mm;
                    match symbol {
                        Symbol::Linear(_) => {
                            for (start, len) in symbol.runs(0) {
                                let left = x_mm + f64::from(start) * m;
                                content.rect(
                                    x(left),
                                    y(y_mm + height_mm),
                                    pt(f64::from(len) * m),
                                    pt(*height_mm),
                                );
                            }
                        }
                        Symbol::Matrix { height, .. } => {
                            for row in 0..*height {
                                for (start, len) in symbol.runs(row) {
                                    let left = x_mm + f64::from(start) * m;
                                    let bottom = y_mm + f64::from(row + 1) * m;
                                    content.rect(x(left), y(bottom), pt(f64::from(len) * m), pt(m));
                                }
                            }
                        }
                    }
                    content.fill_nonzero();
                }
                Mark::Picture {
                    x_mm,
                    y_mm,
                    width_mm,
                    height_mm,
                    picture,
                } => {
                    if let Some((id, _)) = self.pictures.get(&Arc::as_ptr(picture)) {
                        if !page.pictures.contains(id) {
                            page.pictures.push(*id);
                        }
                        let name = format!("Im{}", id.get());
                        content
                            .save_state()
                            .transform([
                                pt(*width_mm),
                                0.0,
                                0.0,
                                pt(*height_mm),
                                x(*x_mm),
                                y(y_mm + height_mm),
                            ])
                            .x_object(Name(name.as_bytes()))
                            .restore_state();
                    }
                }
            }
        }
        Ok(())
    }

    fn flush_page(&mut self) -> io::Result<()> {
        let Some(page) = self.page.take() else {
            return Ok(());
        };
        let (page_id, content_id) = (self.reserve(), self.reserve());
        let data = compress_to_vec_zlib(
            &page.content.finish().into_vec(),
            CompressionLevel::DefaultLevel as u8,
        );
        self.object(content_id, |c| {
            c.stream(content_id, &data).filter(Filter::FlateDecode);
        })?;
        let (pages_ref, latin, cjk) = (self.pages_ref, self.latin_font, self.cjk_font);
        self.object(page_id, |c| {
            let mut p = c.page(page_id);
            p.media_box(Rect::new(0.0, 0.0, pt(page.width_mm), pt(page.height_mm)))
                .parent(pages_ref)
                .contents(content_id);
            let mut resources = p.resources();
            resources
                .fonts()
                .pair(Name(b"F1"), latin)
                .pair(Name(b"F2"), cjk);
            if !page.pictures.is_empty() {
                let mut x = resources.x_objects();
                for id in &page.pictures {
                    let name = format!("Im{}", id.get());
                    x.pair(Name(name.as_bytes()), *id);
                }
                x.finish();
            }
        })?;
        self.pages.push(page_id);
        Ok(())
    }

    /// Writes the last page, the page tree, the catalogue and the cross-reference table, and
    /// returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_page()?;
        let pages_ref = self.pages_ref;
        let kids = std::mem::take(&mut self.pages);
        let count = i32::try_from(kids.len()).unwrap_or(i32::MAX);
        self.object(pages_ref, |c| {
            c.pages(pages_ref).kids(kids.iter().copied()).count(count);
        })?;
        let catalog = self.reserve();
        self.object(catalog, |c| {
            c.indirect(catalog).start::<Catalog>().pages(pages_ref);
        })?;
        let xref_at = self.out.written;
        let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1);
        for offset in &self.offsets {
            xref.push_str(&format!("{offset:010} 00000 n \n"));
        }
        xref.push_str(&format!(
            "trailer\n<< /Size {} /Root {} 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            self.offsets.len() + 1,
            catalog.get()
        ));
        self.out.put(xref.as_bytes())?;
        self.out.inner.flush()?;
        Ok(self.out.inner)
    }
}

/// The text in WinAnsi (Latin-1 where they agree), if every character has a code there.
fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| match c as u32 {
            0x20..=0x7e | 0xa0..=0xff => Some(c as u8),
            _ => None,
        })
        .collect()
}

/// The text as UCS-2 big-endian codes (characters beyond the BMP become `?`).
fn ucs2(text: &str) -> Vec<u8> {
    text.chars()
        .flat_map(|c| {
            u16::try_from(c as u32)
                .unwrap_or(u16::from(b'?'))
                .to_be_bytes()
        })
        .collect()
}

/// Writes `labels` as one PDF to `out`.
pub fn write_all<'a, W: Write>(
    out: W,
    layout: PdfLayout,
    labels: impl IntoIterator<Item = &'a Label>,
) -> io::Result<W> {
    let mut pdf = PdfLabels::new(out, layout)?;
    for label in labels {
        pdf.add(label)?;
    }
    pdf.finish()
}
