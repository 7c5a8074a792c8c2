//! GS1 identifiers for Threadline: the Application Identifier dictionary, element strings,
//! GS1 Digital Link URIs, EPC URNs and the classification of what a scanner sends.
//!
//! Everything here is pure — no I/O, no clock, no database: a scan is turned into GS1 keys
//! (GTIN, serial, lot, expiry, SSCC, GLN, …) and keys are turned back into barcode data, URIs and
//! URNs. Resolving a key to an item in the store happens elsewhere.
//!
//! Every error is a [`FieldError`] whose `code` is stable (see [`codes`]) and whose message names
//! the AI and the value at fault, so it can be shown to the person holding the scanner.
//!
//! Module map:
//! - [`ai`] — the AI dictionary and per-value rules;
//! - [`element`] — [`ElementString`]: raw scanner data, bracketed text, HRI;
//! - [`digital_link`] — [`DigitalLink`] URIs;
//! - [`epc`] — [`EpcUrn`] pure-identity URNs and their conversion to and from Digital Link;
//! - [`keys`] — [`Sscc`], [`Gln`] and the domain's [`Gtin`];
//! - [`scan`] — [`parse_scan`], the one entry point for scanner input.

pub mod ai;
pub mod digital_link;
pub mod element;
pub mod epc;
pub mod keys;
pub mod scan;
mod uri;

pub use ai::Gs1Date;
pub use digital_link::DigitalLink;
pub use element::{Element, ElementString, Symbology};
pub use epc::{EpcScheme, EpcUrn};
pub use keys::{Gln, Gtin, Sscc};
pub use scan::{Scan, parse_scan, parse_scan_with};
pub use threadline_domain::error::FieldError;

/// Switches for the checks that GS1 leaves to the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Enforce the dictionary's `req=` rules (e.g. (21) needs (01)). GS1 says these apply to all
    /// carriers on an item together, so a caller that merges several barcodes of one label
    /// (the SSCC barcode and the (02)+(37) barcode of a pallet label) should turn this off for
    /// each single barcode and check the merged data. Default: on.
    pub check_requisites: bool,
    /// Accept a GTIN-8, -12 or -13 in a Digital Link path (it is padded to 14 digits).
    /// Default: off, as in GS1's reference syntax engine.
    pub permit_zero_suppressed_gtin: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            check_requisites: true,
            permit_zero_suppressed_gtin: false,
        }
    }
}

impl ParseOptions {
    pub fn with_requisites(mut self, on: bool) -> Self {
        self.check_requisites = on;
        self
    }
    pub fn with_zero_suppressed_gtin(mut self, on: bool) -> Self {
        self.permit_zero_suppressed_gtin = on;
        self
    }
}

/// The stable error codes this crate puts in [`FieldError::code`].
pub mod codes {
    /// Empty input, or no AI in it.
    pub const EMPTY_INPUT: &str = "empty_input";
    /// An AI that is not in the dictionary (or a malformed AI).
    pub const UNKNOWN_AI: &str = "unknown_ai";
    /// A value (or key) of the wrong length.
    pub const INVALID_LENGTH: &str = "invalid_length";
    /// A character outside the AI's character set (CSET 82 for serial and lot).
    pub const INVALID_CHARACTER: &str = "invalid_character";
    /// A wrong mod-10 check digit, GMN check pair or IBAN checksum.
    pub const INVALID_CHECK_DIGIT: &str = "invalid_check_digit";
    /// A date that does not exist (`YYMMDD`, `YYYYMMDD`).
    pub const INVALID_DATE: &str = "invalid_date";
    /// A time that does not exist (`HH`, `MM`, `HHMM`).
    pub const INVALID_TIME: &str = "invalid_time";
    /// Any other content rule of a component (piece of total, leading zero, …).
    pub const INVALID_VALUE: &str = "invalid_value";
    /// The same AI twice with different values.
    pub const CONFLICTING_AI_VALUES: &str = "conflicting_ai_values";
    /// A requisite AI (`req=`) is missing.
    pub const MISSING_REQUIRED_AI: &str = "missing_required_ai";
    /// Two AIs that exclude each other (`ex=`).
    pub const MUTUALLY_EXCLUSIVE_AIS: &str = "mutually_exclusive_ais";
    /// More than 64 AIs.
    pub const TOO_MANY_AIS: &str = "too_many_ais";
    /// Broken bracketed or raw syntax (unclosed bracket, empty element).
    pub const INVALID_ELEMENT_STRING: &str = "invalid_element_string";
    /// A `]xy` prefix that is not a GS1 symbology identifier where one is required.
    pub const INVALID_SYMBOLOGY: &str = "invalid_symbology";
    /// A malformed SSCC.
    pub const INVALID_SSCC: &str = "invalid_sscc";
    /// A malformed GLN.
    pub const INVALID_GLN: &str = "invalid_gln";
    /// A malformed GTIN (from the domain crate).
    pub const INVALID_GTIN: &str = "invalid_gtin";
    /// A URI that is not a GS1 Digital Link (no primary key in its path).
    pub const NOT_A_DIGITAL_LINK: &str = "not_a_digital_link";
    /// A malformed Digital Link URI (scheme, host, path structure, `%` escapes).
    pub const INVALID_DIGITAL_LINK: &str = "invalid_digital_link";
    /// A zero-suppressed GTIN-8/12/13 in a Digital Link path while not permitted.
    pub const ZERO_SUPPRESSED_GTIN: &str = "zero_suppressed_gtin";
    /// A path AI that is not a qualifier of the primary key.
    pub const INVALID_QUALIFIER: &str = "invalid_qualifier";
    /// Qualifiers out of the order the primary key prescribes.
    pub const INVALID_QUALIFIER_ORDER: &str = "invalid_qualifier_order";
    /// A qualifier (or key) of the primary key given in the query string.
    pub const QUALIFIER_IN_QUERY: &str = "qualifier_in_query";
    /// An AI that may not be a Digital Link data attribute.
    pub const NOT_A_DATA_ATTRIBUTE: &str = "not_a_data_attribute";
    /// The same AI twice in a Digital Link URI.
    pub const DUPLICATE_AI: &str = "duplicate_ai";
    /// Element string without a Digital Link primary key, or with AIs a Digital Link cannot carry.
    pub const NOT_REPRESENTABLE: &str = "not_representable";
    /// A malformed EPC URN.
    pub const INVALID_EPC_URN: &str = "invalid_epc_urn";
    /// An EPC scheme or pattern this crate does not convert.
    pub const UNSUPPORTED_EPC: &str = "unsupported_epc";
    /// A GS1 Company Prefix length outside 6..=12 or not fitting the key.
    pub const INVALID_COMPANY_PREFIX: &str = "invalid_company_prefix";
    /// Scanner input that is empty after removing CR/LF.
    pub const EMPTY_SCAN: &str = "empty_scan";
}
