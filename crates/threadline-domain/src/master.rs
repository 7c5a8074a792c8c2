//! Master data: products, parties and locations. Each create or change is a ledger entry, so the
//! tables that hold the current definitions are projections like any other, and every earlier
//! version stays readable.

use serde::{Deserialize, Serialize};

use crate::codes::{LocationCode, PartyCode, ProductCode};
use crate::error::{FieldError, Violations};
use crate::gs1::Gtin;

/// How a product is identified on the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackingMode {
    /// One serial per physical unit (一物一码).
    Serial,
    /// Quantities of a batch/lot.
    Lot,
    /// Not traced; may appear only in master data.
    None,
}

impl TrackingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackingMode::Serial => "serial",
            TrackingMode::Lot => "lot",
            TrackingMode::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    Text,
    Number,
    Date,
    Enum,
    Bool,
}

/// A custom field that units of a product carry (e.g. colour, firmware, voltage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    #[serde(default)]
    pub required: bool,
    /// The allowed values of an `enum` attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl AttributeDef {
    /// Checks one value against this definition.
    pub fn check(&self, value: &serde_json::Value) -> Result<(), FieldError> {
        use serde_json::Value;
        let ok = match (self.kind, value) {
            (AttributeType::Text, Value::String(_)) => true,
            (AttributeType::Number, Value::Number(_)) => true,
            (AttributeType::Bool, Value::Bool(_)) => true,
            (AttributeType::Date, Value::String(s)) => {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
            }
            (AttributeType::Enum, Value::String(s)) => self.options.iter().any(|o| o == s),
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let expected = match self.kind {
            AttributeType::Text => "text".to_owned(),
            AttributeType::Number => "a number".to_owned(),
            AttributeType::Bool => "true or false".to_owned(),
            AttributeType::Date => "a date YYYY-MM-DD".to_owned(),
            AttributeType::Enum => format!("one of {}", self.options.join(", ")),
        };
        Err(FieldError::new(
            "invalid_attribute",
            format!("attribute `{}` must be {expected}, got {value}", self.name),
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub code: ProductCode,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gtin: Option<Gtin>,
    pub tracking: TrackingMode,
    /// UN/CEFACT Rec. 20 unit code: `EA` (each), `KGM`, `MTR`, `LTR`, …
    #[serde(default = "default_uom")]
    pub uom: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Warranty length from the sale to the end customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_months: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeDef>,
    /// Units of this product are containers (cases, pallets — identified by an SSCC or an
    /// internal code): packing puts units into them, and moving, shipping or receiving one
    /// moves everything inside it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub container: bool,
    /// The serial-number rule this product's serials are allocated by: the code of a stored
    /// rule (`"PJC"`, see [`SerialRuleDef`]), or a rule spec of its own (an object, versioned
    /// with the product). Without one, the rule assigned to the product's category applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_rule: Option<serde_json::Value>,
}

fn default_uom() -> String {
    "EA".to_owned()
}

fn check_name(name: &str, field: &str, out: &mut Violations) {
    if name.trim().is_empty() {
        out.push(FieldError::new("empty", "name must not be empty").at(field));
    } else if name.chars().count() > 200 {
        out.push(FieldError::new("too_long", "name is longer than 200 characters").at(field));
    }
}

impl Product {
    /// The rules the JSON shape cannot express.
    pub fn check(&self) -> Violations {
        let mut out = Violations::new();
        check_name(&self.name, "name", &mut out);
        if self.uom.is_empty()
            || self.uom.len() > 3
            || !self
                .uom
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            out.push(
                FieldError::new(
                    "invalid_uom",
                    format!(
                        "unit of measure `{}` must be a UN/CEFACT code such as EA or KGM",
                        self.uom
                    ),
                )
                .at("uom"),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, a) in self.attributes.iter().enumerate() {
            let at = format!("attributes[{i}]");
            let valid_name = !a.name.is_empty()
                && a.name.len() <= 64
                && a.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid_name {
                out.push(
                    FieldError::new(
                        "invalid_attribute_name",
                        format!(
                            "attribute name `{}` must be letters, digits and `_`",
                            a.name
                        ),
                    )
                    .at(format!("{at}.name")),
                );
            }
            if !seen.insert(a.name.as_str()) {
                out.push(
                    FieldError::new(
                        "duplicate",
                        format!("attribute `{}` is defined twice", a.name),
                    )
                    .at(format!("{at}.name")),
                );
            }
            match (a.kind, a.options.is_empty()) {
                (AttributeType::Enum, true) => out.push(
                    FieldError::new(
                        "missing_options",
                        format!("enum attribute `{}` needs options", a.name),
                    )
                    .at(format!("{at}.options")),
                ),
                (AttributeType::Enum, false) | (_, true) => {}
                (_, false) => out.push(
                    FieldError::new(
                        "unexpected_options",
                        format!("only enum attributes take options (`{}`)", a.name),
                    )
                    .at(format!("{at}.options")),
                ),
            }
        }
        out
    }

    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Supplier,
    Customer,
    Distributor,
}

impl PartyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Supplier => "supplier",
            PartyKind::Customer => "customer",
            PartyKind::Distributor => "distributor",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub code: PartyCode,
    pub name: String,
    pub kind: PartyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Contact>,
    /// For distributors: the sales regions they are authorised for (e.g. `CN-GD`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// For sub-distributors: the distributor above them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<PartyCode>,
}

impl Party {
    pub fn check(&self) -> Violations {
        let mut out = Violations::new();
        check_name(&self.name, "name", &mut out);
        if !self.regions.is_empty() && self.kind != PartyKind::Distributor {
            out.push(
                FieldError::new(
                    "unexpected_regions",
                    "only distributors have authorised regions",
                )
                .at("regions"),
            );
        }
        for (i, r) in self.regions.iter().enumerate() {
            if r.is_empty()
                || r.len() > 32
                || r.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                out.push(
                    FieldError::new(
                        "invalid_region",
                        format!("region `{r}` must be a code such as CN-GD"),
                    )
                    .at(format!("regions[{i}]")),
                );
            }
        }
        if self.parent.as_ref() == Some(&self.code) {
            out.push(
                FieldError::new("invalid_parent", "a party cannot be its own parent").at("parent"),
            );
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    Site,
    Area,
    Line,
    Bin,
    /// A place outside our walls: a customer site, a distributor's warehouse, a 3PL.
    External,
}

impl LocationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Site => "site",
            LocationKind::Area => "area",
            LocationKind::Line => "line",
            LocationKind::Bin => "bin",
            LocationKind::External => "external",
        }
    }

    /// Which kinds may contain this one: sites are roots, areas and lines sit in a site, bins sit
    /// in a site, area or line.
    pub fn allowed_parents(self) -> &'static [LocationKind] {
        match self {
            LocationKind::Site => &[],
            LocationKind::Area | LocationKind::Line => &[LocationKind::Site, LocationKind::Area],
            LocationKind::Bin => &[LocationKind::Site, LocationKind::Area, LocationKind::Line],
            LocationKind::External => &[LocationKind::External],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub code: LocationCode,
    pub name: String,
    pub kind: LocationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<LocationCode>,
    /// The party an external location belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<PartyCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Location {
    /// Rules that need no database; the store adds "the parent exists and may contain this".
    pub fn check(&self) -> Violations {
        let mut out = Violations::new();
        check_name(&self.name, "name", &mut out);
        match (self.kind, &self.parent) {
            (LocationKind::Site, Some(_)) => out.push(
                FieldError::new(
                    "invalid_parent",
                    "a site is a top-level location and has no parent",
                )
                .at("parent"),
            ),
            (LocationKind::Area | LocationKind::Line | LocationKind::Bin, None) => out.push(
                FieldError::new(
                    "missing_parent",
                    format!("a {} must name the location it is in", self.kind.as_str()),
                )
                .at("parent"),
            ),
            _ => {}
        }
        if self.parent.as_ref() == Some(&self.code) {
            out.push(
                FieldError::new("invalid_parent", "a location cannot contain itself").at("parent"),
            );
        }
        if self.party.is_some() && self.kind != LocationKind::External {
            out.push(
                FieldError::new(
                    "unexpected_party",
                    "only external locations belong to a party",
                )
                .at("party"),
            );
        }
        out
    }
}

/// A serial-number rule kept as master data: created through the API, versioned like every
/// master record, and assigned to products (by their `serial_rule`) or to whole categories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SerialRuleDef {
    /// The rule as `threadline-serial` reads it (template, time zone, reset, uniqueness…); its
    /// `code` is the record's code.
    pub rule: serde_json::Value,
    pub name: String,
    /// Product categories whose products take this rule unless they name their own. A category
    /// has at most one rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
}

impl SerialRuleDef {
    /// The rule's code, read from the rule itself (empty when the rule has none, which the
    /// store refuses).
    pub fn code(&self) -> &str {
        self.rule
            .get("code")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
    }

    /// Rules that need neither the database nor the serial crate.
    pub fn check(&self) -> Violations {
        let mut out = Violations::new();
        check_name(&self.name, "name", &mut out);
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.categories.iter().enumerate() {
            if c.trim().is_empty() || c.chars().count() > 64 || c.chars().any(char::is_control) {
                out.push(
                    FieldError::new(
                        "invalid_category",
                        "a category is 1 to 64 printable characters".to_owned(),
                    )
                    .at(format!("categories[{i}]")),
                );
            } else if !seen.insert(c.as_str()) {
                out.push(
                    FieldError::new("duplicate", format!("category `{c}` is listed twice"))
                        .at(format!("categories[{i}]")),
                );
            }
        }
        out
    }
}

/// One master-data change as it is written to the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", content = "def", rename_all = "snake_case")]
pub enum MasterRecord {
    Product(Product),
    Party(Party),
    Location(Location),
    /// The process definition (one per plant, under [`crate::process::PROCESS_CODE`]).
    Process(crate::process::Process),
    /// A serial-number rule.
    SerialRule(SerialRuleDef),
}

impl MasterRecord {
    pub fn kind(&self) -> &'static str {
        match self {
            MasterRecord::Product(_) => "product",
            MasterRecord::Party(_) => "party",
            MasterRecord::Location(_) => "location",
            MasterRecord::Process(_) => "process",
            MasterRecord::SerialRule(_) => "serial_rule",
        }
    }

    pub fn code(&self) -> &str {
        match self {
            MasterRecord::Product(p) => p.code.as_str(),
            MasterRecord::Party(p) => p.code.as_str(),
            MasterRecord::Location(l) => l.code.as_str(),
            MasterRecord::Process(_) => crate::process::PROCESS_CODE,
            MasterRecord::SerialRule(r) => r.code(),
        }
    }
}
