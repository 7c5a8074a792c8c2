//! Labels and data carriers (数据载体): the barcodes Threadline's serials live on, and the
//! labels that carry them.
//!
//! Pure: no store, no clock, no I/O but the writer it is handed. A label is made in three
//! steps — a [`LabelTemplate`] (data: size, resolution, fields with placeholders) is checked
//! once into a [`CompiledTemplate`], filled with one serial's [`LabelData`] into a [`Label`]
//! (barcodes encoded, human-readable lines placed), and drawn by an output module. Every
//! output draws the same [`Symbol`], the one the tests decode back.
//!
//! Module map:
//! - [`symbol`] — [`encode`]: QR (text, GS1, Digital Link), Data Matrix (plain, GS1), Code 128,
//!   GS1-128, EAN-13, UPC-A, via `rxing`; GS1 data from `threadline-gs1`;
//! - [`template`] — templates, placeholders, validation naming fields, filling;
//! - [`raster`] — PNG at the printer's resolution (text from GNU Unifont);
//! - [`svg`] — SVG in millimetres;
//! - [`pdf`] — [`PdfLabels`]: PDF streamed page by page, roll or sheet layout;
//! - [`zpl`] — ZPL II with native barcode commands.

pub mod pdf;
pub mod raster;
pub mod svg;
pub mod symbol;
pub mod template;
pub mod zpl;

pub use pdf::{PdfLabels, PdfLayout};
pub use symbol::{Barcode, Symbol, Symbology, encode};
pub use template::{CompiledTemplate, Field, Label, LabelData, LabelTemplate, Mark};
