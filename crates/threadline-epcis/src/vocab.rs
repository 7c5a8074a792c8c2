//! CBV 2.0 vocabularies in their three spellings: the bare JSON word (`shipping`), the Web URI
//! (`https://ref.gs1.org/cbv/BizStep-shipping`) and the URN (`urn:epcglobal:cbv:bizstep:shipping`).
//! Threadline stores the bare word for a CBV value and the URI for anything else.

use threadline_domain::event::{CBV_BIZ_STEPS, CBV_DISPOSITIONS};

/// The business transaction types of CBV 2.0 (Threadline's own `so` and `ro` are not among them).
pub const CBV_BTT: &[&str] = &[
    "bol",
    "cert",
    "desadv",
    "inv",
    "pedigree",
    "po",
    "poc",
    "prodorder",
    "recadv",
    "rma",
    "testprd",
    "testres",
    "upevt",
];
pub const CBV_SDT: &[&str] = &["owning_party", "possessing_party", "location"];
pub const CBV_ER: &[&str] = &["did_not_occur", "incorrect_data"];
pub const SENSOR_ALERTS: &[&str] = &["ALARM_CONDITION", "ERROR_CONDITION"];
pub const COMPONENTS: &[&str] = &[
    "x",
    "y",
    "z",
    "axial_distance",
    "azimuth",
    "height",
    "spherical_radius",
    "polar_angle",
    "elevation_angle",
    "easting",
    "northing",
    "latitude",
    "longitude",
    "altitude",
];

/// Threadline's transaction types beyond CBV, written `urn:threadline:btt:{word}` to partners.
const THREADLINE_BTT: &str = "urn:threadline:btt:";

/// One CBV vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    BizStep,
    Disposition,
    BizTransactionType,
    SourceDestType,
    ErrorReason,
    SensorAlert,
    Component,
}

impl Vocab {
    fn words(self) -> &'static [&'static str] {
        match self {
            Vocab::BizStep => CBV_BIZ_STEPS,
            Vocab::Disposition => CBV_DISPOSITIONS,
            Vocab::BizTransactionType => CBV_BTT,
            Vocab::SourceDestType => CBV_SDT,
            Vocab::ErrorReason => CBV_ER,
            Vocab::SensorAlert => SENSOR_ALERTS,
            Vocab::Component => COMPONENTS,
        }
    }

    fn web(self) -> &'static str {
        match self {
            Vocab::BizStep => "https://ref.gs1.org/cbv/BizStep-",
            Vocab::Disposition => "https://ref.gs1.org/cbv/Disp-",
            Vocab::BizTransactionType => "https://ref.gs1.org/cbv/BTT-",
            Vocab::SourceDestType => "https://ref.gs1.org/cbv/SDT-",
            Vocab::ErrorReason => "https://ref.gs1.org/cbv/ER-",
            Vocab::SensorAlert => "https://gs1.org/voc/SensorAlertType-",
            Vocab::Component => "https://ref.gs1.org/cbv/Comp-",
        }
    }

    fn urn(self) -> Option<&'static str> {
        Some(match self {
            Vocab::BizStep => "urn:epcglobal:cbv:bizstep:",
            Vocab::Disposition => "urn:epcglobal:cbv:disp:",
            Vocab::BizTransactionType => "urn:epcglobal:cbv:btt:",
            Vocab::SourceDestType => "urn:epcglobal:cbv:sdt:",
            Vocab::ErrorReason => "urn:epcglobal:cbv:er:",
            _ => return None,
        })
    }

    /// The bare word of a CBV value in any spelling; `None` if it is not one.
    pub fn word(self, s: &str) -> Option<&'static str> {
        let w = s
            .strip_prefix(self.web())
            .or_else(|| self.urn().and_then(|u| s.strip_prefix(u)))
            .or_else(|| s.strip_prefix("gs1:"))
            .unwrap_or(s);
        self.words().iter().copied().find(|k| *k == w)
    }

    /// The Web URI event hashing uses; a value that is not CBV is returned unchanged.
    pub fn web_uri(self, s: &str) -> String {
        match self.word(s) {
            Some(w) => format!("{}{w}", self.web()),
            None => s.to_owned(),
        }
    }

    /// The URN the XML binding writes for a CBV word; other values unchanged.
    pub fn urn_of(self, s: &str) -> String {
        match (self.word(s), self.urn()) {
            (Some(w), Some(u)) => format!("{u}{w}"),
            _ => s.to_owned(),
        }
    }
}

/// Reads an EPCIS business transaction type into Threadline's word: a CBV type in any spelling,
/// Threadline's own `urn:threadline:btt:{so|ro}`, or a URI of the partner's vocabulary.
pub fn btt_in(s: &str) -> String {
    if let Some(w) = Vocab::BizTransactionType.word(s) {
        return w.to_owned();
    }
    match s.strip_prefix(THREADLINE_BTT) {
        Some(w) => w.to_owned(),
        None => s.to_owned(),
    }
}

/// Writes Threadline's business transaction type for partners.
pub fn btt_out(s: &str) -> String {
    if Vocab::BizTransactionType.word(s).is_some() || crate::ids::is_uri(s) {
        s.to_owned()
    } else {
        format!("{THREADLINE_BTT}{s}")
    }
}

/// A vocabulary value read from EPCIS for Threadline: the bare word of a CBV value in any
/// spelling, otherwise the value as sent (a URI, or a bare word the domain will refuse).
pub fn word_in(v: Vocab, s: &str) -> String {
    v.word(s).map_or_else(|| s.to_owned(), str::to_owned)
}
