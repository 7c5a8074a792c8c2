//! Identifiers: EPCIS names objects, classes, places, parties and transactions by URI;
//! Threadline by product code + serial, product code + lot, location code, party code and
//! transaction id. This module is the one place where one becomes the other.
//!
//! GS1 keys come first: an SGTIN (EPC URN or Digital Link) is a unit of the product holding that
//! GTIN, an LGTIN a lot of it, a GTIN alone (`urn:epc:idpat:sgtin:….*`, `/01/{gtin}`) every
//! unit or lot of it. A partner's documents name their own products too: an SGTIN, LGTIN or
//! GTIN class whose GTIN no product holds is recorded as given ([`Object::Untracked`],
//! [`Class::Untracked`]), like the keys below. Places and parties are named by GLN: a location
//! or party whose code is its 13-digit GLN (a location with an extension:
//! `{gln}.{extension}`) is an SGLN or PGLN to partners. Everything else Threadline knows has no GS1 key, and is written with Threadline's
//! own URNs, which read back to the same thing:
//!
//! | thing | URN |
//! |---|---|
//! | unit of a product without GTIN | `urn:threadline:unit:{product}:{serial}` |
//! | lot of a product without GTIN | `urn:threadline:lot:{product}:{lot}` |
//! | every unit or lot of a product | `urn:threadline:product:{product}` |
//! | location | `urn:threadline:loc:{code}` |
//! | party | `urn:threadline:party:{code}` |
//! | business transaction | `urn:threadline:bt:{id}` (an id that is already a URI is kept) |
//!
//! Serials, lots and transaction ids are percent-encoded in these URNs.
//!
//! An SSCC names a container: the unit of a container product whose serial is that SSCC, or —
//! when there is none — a unit of the default container product [`SSCC_PRODUCT`], which the
//! projection registers the first time an event names it. Other GS1 keys (GRAI, GIAI, GSRN,
//! GDTI, an SGLN named as an object…) and any other URI name objects Threadline does not track:
//! they are recorded with the event as given ([`Object::Untracked`], [`Class::Untracked`]).

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use threadline_domain::codes::{
    ItemKey, LocationCode, LotCode, LotKey, PartyCode, ProductCode, Serial,
};
use threadline_domain::error::FieldError;
use threadline_domain::master::{Product, TrackingMode};
use threadline_gs1::{DigitalLink, ElementString, EpcUrn, Gln, Gtin, ParseOptions};

const UNIT: &str = "urn:threadline:unit:";
const LOT: &str = "urn:threadline:lot:";
const PRODUCT: &str = "urn:threadline:product:";
const LOC: &str = "urn:threadline:loc:";
const PARTY: &str = "urn:threadline:party:";
const BT: &str = "urn:threadline:bt:";

/// The code of the container product whose units are the SSCCs no other container product
/// holds: created with the first capture that needs it.
pub const SSCC_PRODUCT: &str = "SSCC";

const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn escape(s: &str) -> String {
    utf8_percent_encode(s, ESCAPED).to_string()
}

fn unescape(s: &str, uri: &str) -> Result<String, FieldError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| invalid(uri, "its escapes are not UTF-8"))
}

fn invalid(uri: &str, why: &str) -> FieldError {
    FieldError::new("invalid_identifier", format!("`{uri}`: {why}"))
}

/// What Threadline knows of a product, as the EPCIS binding needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductInfo {
    pub code: ProductCode,
    pub gtin: Option<Gtin>,
    /// UN/CEFACT Rec. 20 unit; `EA` is a count.
    pub uom: String,
    pub tracking: TrackingMode,
    pub container: bool,
}

/// The products a document names, by GTIN and by code. The caller fills it from the store
/// (see [`gtins`] for what to look up), so mapping stays pure.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    by_gtin: HashMap<String, ProductInfo>,
    by_code: HashMap<String, ProductInfo>,
    /// The container unit each SSCC is, where one is registered (see [`ssccs`]).
    by_sscc: HashMap<String, ItemKey>,
}

impl Catalogue {
    pub fn insert(&mut self, p: &Product) {
        let info = ProductInfo {
            code: p.code.clone(),
            gtin: p.gtin.clone(),
            uom: p.uom.clone(),
            tracking: p.tracking,
            container: p.container,
        };
        if let Some(g) = &p.gtin {
            self.by_gtin.insert(g.as_str().to_owned(), info.clone());
        }
        self.by_code.insert(p.code.as_str().to_owned(), info);
    }

    pub fn by_gtin(&self, gtin: &Gtin) -> Option<&ProductInfo> {
        self.by_gtin.get(gtin.as_str())
    }

    pub fn by_code(&self, code: &str) -> Option<&ProductInfo> {
        self.by_code.get(code)
    }

    /// Notes the registered container unit an SSCC (18 digits) is.
    pub fn insert_sscc(&mut self, sscc: &str, unit: ItemKey) {
        self.by_sscc.insert(sscc.to_owned(), unit);
    }

    /// The unit an SSCC names: the registered container unit, else a unit of
    /// [`SSCC_PRODUCT`] (registered the first time an event names it).
    pub fn sscc_unit(&self, sscc: &str) -> Result<ItemKey, FieldError> {
        if let Some(k) = self.by_sscc.get(sscc) {
            return Ok(k.clone());
        }
        Ok(ItemKey {
            product: ProductCode::parse(SSCC_PRODUCT)?,
            serial: Serial::parse(sscc)?,
        })
    }

    fn product_of_gtin(&self, gtin: &Gtin) -> Result<&ProductInfo, FieldError> {
        self.by_gtin(gtin).ok_or_else(|| {
            FieldError::new(
                "unknown_gtin",
                format!("no product has GTIN {}", gtin.as_str()),
            )
        })
    }
}

/// The GS1 keys in an EPC URN or Digital Link; `None` for any other URI.
pub(crate) fn gs1_keys(uri: &str) -> Result<Option<ElementString>, FieldError> {
    if uri.starts_with("urn:epc:") {
        return EpcUrn::parse(uri).map(|u| Some(u.element_string().clone()));
    }
    if uri.starts_with("https://") || uri.starts_with("http://") {
        let options = ParseOptions::default()
            .with_requisites(false)
            .with_zero_suppressed_gtin(true);
        return match DigitalLink::parse_with(uri, &options) {
            Ok(dl) => Ok(Some(dl.into_element_string())),
            Err(e) if e.code == threadline_gs1::codes::NOT_A_DIGITAL_LINK => Ok(None),
            Err(e) => Err(e),
        };
    }
    Ok(None)
}

/// The constrained canonical Digital Link (`https://id.gs1.org/…`, finest key only) of an EPC
/// URN or Digital Link, as event hashing and comparisons need it; `None` for other URIs.
pub fn canonical_gs1_uri(uri: &str) -> Option<String> {
    if uri.starts_with("urn:epc:") {
        return EpcUrn::parse(uri)
            .ok()
            .map(|u| u.to_digital_link().to_constrained_uri());
    }
    if uri.starts_with("https://") || uri.starts_with("http://") {
        let options = ParseOptions::default()
            .with_requisites(false)
            .with_zero_suppressed_gtin(true);
        return DigitalLink::parse_with(uri, &options)
            .ok()
            .map(|d| d.to_constrained_uri());
    }
    None
}

/// Every GTIN named by the URIs, so the caller can load their products.
pub fn gtins<'a>(uris: impl IntoIterator<Item = &'a str>) -> Vec<Gtin> {
    let mut out: Vec<Gtin> = uris
        .into_iter()
        .filter_map(|u| gs1_keys(u).ok().flatten())
        .filter_map(|es| es.get("01").and_then(|g| Gtin::parse(g).ok()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every SSCC (18 digits) named by the URIs, so the caller can look up the container units
/// they are ([`Catalogue::insert_sscc`]).
pub fn ssccs<'a>(uris: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = uris
        .into_iter()
        .filter_map(|u| gs1_keys(u).ok().flatten())
        .filter_map(|es| es.get("00").map(str::to_owned))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What an EPC names: a unit Threadline tracks, or an object it records as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Unit(ItemKey),
    /// A GRAI, GIAI, GSRN, GDTI, an SGLN named as an object, an EPC of no GS1 key, any other
    /// URI: kept as given, no state.
    Untracked,
}

/// What an `epcClass` names: a lot, a product without a lot, or a class Threadline records as
/// given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    Lot(LotKey),
    /// A GTIN without a lot (`urn:epc:idpat:sgtin:….*`, `/01/{gtin}`).
    Product(ProductCode),
    Untracked,
}

fn not_a_uri(uri: &str) -> FieldError {
    invalid(
        uri,
        "an identifier is an absolute URI (an EPC URN, a GS1 Digital Link or another URI)",
    )
}

/// The GS1 keys of a URI that names them; `Ok(None)` for a URI that names no GS1 key Threadline
/// converts (an EPC of another scheme, any other URI); an error for a malformed one.
fn keys_of(uri: &str) -> Result<Option<ElementString>, FieldError> {
    match gs1_keys(uri) {
        Ok(Some(k)) => Ok(Some(k)),
        Ok(None) if is_uri(uri) => Ok(None),
        Ok(None) => Err(not_a_uri(uri)),
        Err(e) if e.code == "unsupported_epc" => Ok(None),
        Err(e) => Err(e),
    }
}

/// What an EPC in `epcList`, `childEPCs`, `parentID`, an input or output list names.
pub fn object(catalogue: &Catalogue, uri: &str) -> Result<Object, FieldError> {
    if uri.starts_with(UNIT) {
        return unit(catalogue, uri).map(Object::Unit);
    }
    if uri.starts_with(LOT) || uri.starts_with(PRODUCT) {
        return Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` names a class, not an object: give it in a quantity list"),
        ));
    }
    let Some(keys) = keys_of(uri)? else {
        return Ok(Object::Untracked);
    };
    // A partner's own product: an SGTIN whose GTIN no product holds is recorded as given.
    if let (Some(gtin), Some(_)) = (keys.get("01"), keys.get("21"))
        && catalogue.by_gtin(&Gtin::parse(gtin)?).is_none()
    {
        return Ok(Object::Untracked);
    }
    if keys.get("01").is_some() || keys.get("00").is_some() {
        return unit(catalogue, uri).map(Object::Unit);
    }
    Ok(Object::Untracked)
}

/// What an `epcClass` names.
pub fn class(catalogue: &Catalogue, uri: &str) -> Result<Class, FieldError> {
    if uri.starts_with(LOT) {
        return lot(catalogue, uri).map(Class::Lot);
    }
    if let Some(p) = uri.strip_prefix(PRODUCT) {
        return ProductCode::parse(p).map(Class::Product);
    }
    if uri.starts_with(UNIT) {
        return Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` names one unit, not a class: give it in an EPC list"),
        ));
    }
    let Some(keys) = keys_of(uri)? else {
        return Ok(Class::Untracked);
    };
    match (keys.get("01"), keys.get("10"), keys.get("21")) {
        (Some(_), _, Some(_)) => Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` names one unit (SGTIN), not a class: give it in an EPC list"),
        )),
        // A partner's own product: a GTIN (with or without a lot) no product holds is a
        // class recorded as given.
        (Some(gtin), _, None) if catalogue.by_gtin(&Gtin::parse(gtin)?).is_none() => {
            Ok(Class::Untracked)
        }
        (Some(_), Some(_), None) => lot(catalogue, uri).map(Class::Lot),
        (Some(gtin), None, None) => Ok(Class::Product(
            catalogue.product_of_gtin(&Gtin::parse(gtin)?)?.code.clone(),
        )),
        (None, _, _) if keys.get("00").is_some() => Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` names one logistic unit (SSCC), not a class: give it in an EPC list"),
        )),
        (None, _, _) => Ok(Class::Untracked),
    }
}

/// A unit named by an EPC: `epcList`, `childEPCs`, `parentID`, input and output lists.
pub fn unit(catalogue: &Catalogue, uri: &str) -> Result<ItemKey, FieldError> {
    if let Some(rest) = uri.strip_prefix(UNIT) {
        let (product, serial) = rest
            .split_once(':')
            .ok_or_else(|| invalid(uri, "expected urn:threadline:unit:{product}:{serial}"))?;
        return Ok(ItemKey {
            product: ProductCode::parse(product)?,
            serial: Serial::parse(&unescape(serial, uri)?)?,
        });
    }
    let Some(keys) = gs1_keys(uri)? else {
        return Err(FieldError::new(
            "unsupported_identifier",
            format!(
                "`{uri}` is not a GS1 key or a Threadline unit; Threadline tracks units by GTIN + serial"
            ),
        ));
    };
    if let Some(sscc) = keys.get("00") {
        return catalogue.sscc_unit(sscc);
    }
    match (keys.get("01"), keys.get("21")) {
        (Some(gtin), Some(serial)) => {
            let p = catalogue.product_of_gtin(&Gtin::parse(gtin)?)?;
            Ok(ItemKey {
                product: p.code.clone(),
                serial: Serial::parse(serial)?,
            })
        }
        (Some(_), None) => Err(FieldError::new(
            "unsupported_identifier",
            format!(
                "`{uri}` names a class (a GTIN without a serial), not an object: give it in a quantity list"
            ),
        )),
        _ => Err(FieldError::new(
            "unsupported_identifier",
            format!(
                "`{uri}` is not a serialised GTIN (SGTIN) or an SSCC; Threadline tracks no unit by other GS1 keys (GRAI, GIAI…)"
            ),
        )),
    }
}

/// A lot named by an `epcClass` (LGTIN or a Threadline lot URN).
pub fn lot(catalogue: &Catalogue, uri: &str) -> Result<LotKey, FieldError> {
    if let Some(rest) = uri.strip_prefix(LOT) {
        let (product, lot) = rest
            .split_once(':')
            .ok_or_else(|| invalid(uri, "expected urn:threadline:lot:{product}:{lot}"))?;
        return Ok(LotKey {
            product: ProductCode::parse(product)?,
            lot: LotCode::parse(&unescape(lot, uri)?)?,
        });
    }
    let keys = gs1_keys(uri)?;
    match keys.as_ref().map(|k| (k.get("01"), k.get("10"))) {
        Some((Some(gtin), Some(lot))) => {
            let p = catalogue.product_of_gtin(&Gtin::parse(gtin)?)?;
            Ok(LotKey {
                product: p.code.clone(),
                lot: LotCode::parse(lot)?,
            })
        }
        Some((Some(_), None)) => Err(FieldError::new(
            "unsupported_identifier",
            format!(
                "`{uri}` names a GTIN without a lot; Threadline counts quantities per lot (use an LGTIN)"
            ),
        )),
        _ => Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` is not a GTIN + lot class (LGTIN) or a Threadline lot"),
        )),
    }
}

/// What a `MATCH_…` query value selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// One unit.
    Unit(ItemKey),
    /// One lot.
    Lot(LotKey),
    /// Every unit and lot of a product (`urn:epc:idpat:sgtin:GCP.ITEM.*`, `/01/{gtin}`).
    Product(ProductCode),
    /// An SSCC no unit is: matches nothing.
    Nothing,
    /// An identifier Threadline records as given (a GRAI, GIAI…, an SGTIN or LGTIN of a GTIN no
    /// product holds, or any other URI): the index of objects recorded as given narrows it, or
    /// every event is judged.
    Other,
}

/// Reads a query value of `MATCH_epc`, `MATCH_epcClass` and their kin.
pub fn pattern(catalogue: &Catalogue, uri: &str) -> Result<Pattern, FieldError> {
    if let Some(p) = uri.strip_prefix(PRODUCT) {
        return Ok(Pattern::Product(ProductCode::parse(p)?));
    }
    if uri.starts_with(UNIT) {
        return unit(catalogue, uri).map(Pattern::Unit);
    }
    if uri.starts_with(LOT) {
        return lot(catalogue, uri).map(Pattern::Lot);
    }
    let Some(keys) = keys_of(uri)? else {
        return Ok(Pattern::Other);
    };
    if let Some(sscc) = keys.get("00") {
        return Ok(match catalogue.by_sscc.get(sscc) {
            Some(k) => Pattern::Unit(k.clone()),
            None => Pattern::Nothing,
        });
    }
    let Some(gtin) = keys.get("01") else {
        return Ok(Pattern::Other);
    };
    // A GTIN no product holds: its units and lots were recorded as given, if at all.
    let Some(p) = catalogue.by_gtin(&Gtin::parse(gtin)?) else {
        return Ok(Pattern::Other);
    };
    Ok(match (keys.get("21"), keys.get("10")) {
        (Some(serial), _) => Pattern::Unit(ItemKey {
            product: p.code.clone(),
            serial: Serial::parse(serial)?,
        }),
        (None, Some(lot)) => Pattern::Lot(LotKey {
            product: p.code.clone(),
            lot: LotCode::parse(lot)?,
        }),
        (None, None) => Pattern::Product(p.code.clone()),
    })
}

/// The EPC of a unit: its SGTIN as a Digital Link when the product has a GTIN, its SSCC when it
/// is a container whose serial is one.
pub fn unit_uri(catalogue: &Catalogue, key: &ItemKey) -> String {
    let product = catalogue.by_code(key.product.as_str());
    if product.is_some_and(|p| p.container) && threadline_domain::gs1::is_sscc(key.serial.as_str())
    {
        return format!("https://id.gs1.org/00/{}", key.serial);
    }
    let gtin = product.and_then(|p| p.gtin.as_ref());
    if let Some(g) = gtin
        && let Ok(es) = ElementString::from_pairs([("01", g.as_str()), ("21", key.serial.as_str())])
        && let Ok(dl) = DigitalLink::from_element_string(&es)
    {
        return dl.to_canonical_uri();
    }
    format!("{UNIT}{}:{}", key.product, escape(key.serial.as_str()))
}

/// Every unit and lot of a product: its GTIN as a Digital Link, or Threadline's product URN.
pub fn product_uri(p: &Product) -> String {
    match &p.gtin {
        Some(g) => format!("https://id.gs1.org/01/{}", g.as_str()),
        None => format!("{PRODUCT}{}", p.code),
    }
}

/// The `epcClass` of a lot: its LGTIN as a Digital Link when the product has a GTIN.
pub fn lot_uri(catalogue: &Catalogue, key: &LotKey) -> String {
    let gtin = catalogue
        .by_code(key.product.as_str())
        .and_then(|p| p.gtin.as_ref());
    if let Some(g) = gtin
        && let Ok(es) = ElementString::from_pairs([("01", g.as_str()), ("10", key.lot.as_str())])
        && let Ok(dl) = DigitalLink::from_element_string(&es)
    {
        return dl.to_canonical_uri();
    }
    format!("{LOT}{}:{}", key.product, escape(key.lot.as_str()))
}

/// The code of a place named by `readPoint`, `bizLocation` or a `location` source/destination.
pub fn location(uri: &str) -> Result<LocationCode, FieldError> {
    if let Some(code) = uri.strip_prefix(LOC) {
        return LocationCode::parse(code);
    }
    let keys = gs1_keys(uri)?;
    let Some(gln) = keys
        .as_ref()
        .and_then(|k| k.get("414").or_else(|| k.get("417")))
    else {
        return Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` is not a GLN (SGLN, Digital Link /414/) or a Threadline location"),
        ));
    };
    let code = match keys.as_ref().and_then(|k| k.get("254")) {
        Some(ext) => format!("{gln}.{ext}"),
        None => gln.to_owned(),
    };
    LocationCode::parse(&code).map_err(|_| {
        FieldError::new(
            "unsupported_identifier",
            format!("`{uri}`: the GLN extension cannot be a Threadline location code (letters, digits, `-`, `_`, `.`)"),
        )
    })
}

/// The URI partners see for a location.
pub fn location_uri(code: &LocationCode) -> String {
    let (gln, ext) = match code.as_str().split_once('.') {
        Some((g, e)) => (g, Some(e)),
        None => (code.as_str(), None),
    };
    if Gln::parse(gln).is_ok() {
        let mut pairs = vec![("414", gln)];
        pairs.extend(ext.map(|e| ("254", e)));
        if let Ok(dl) =
            ElementString::from_pairs(pairs).and_then(|es| DigitalLink::from_element_string(&es))
        {
            return dl.to_canonical_uri();
        }
    }
    format!("{LOC}{code}")
}

/// The code of a party named by an `owning_party`/`possessing_party` source or destination.
pub fn party(uri: &str) -> Result<PartyCode, FieldError> {
    if let Some(code) = uri.strip_prefix(PARTY) {
        return PartyCode::parse(code);
    }
    let keys = gs1_keys(uri)?;
    match keys
        .as_ref()
        .and_then(|k| k.get("417").or_else(|| k.get("414")))
    {
        Some(gln) => PartyCode::parse(gln),
        None => Err(FieldError::new(
            "unsupported_identifier",
            format!("`{uri}` is not a party GLN (PGLN, Digital Link /417/) or a Threadline party"),
        )),
    }
}

/// The URI partners see for a party.
pub fn party_uri(code: &PartyCode) -> String {
    if Gln::parse(code.as_str()).is_ok()
        && let Ok(dl) = ElementString::from_pairs([("417", code.as_str())])
            .and_then(|es| DigitalLink::from_element_string(&es))
    {
        return dl.to_canonical_uri();
    }
    format!("{PARTY}{code}")
}

/// The Threadline id of a business transaction URI: a Threadline URN reads back to its id,
/// any other URI is the id itself.
pub fn transaction(uri: &str) -> Result<String, FieldError> {
    match uri.strip_prefix(BT) {
        Some(id) => unescape(id, uri),
        None => Ok(uri.to_owned()),
    }
}

/// The URI partners see for a transaction id.
pub fn transaction_uri(id: &str) -> String {
    if is_uri(id) {
        id.to_owned()
    } else {
        format!("{BT}{}", escape(id))
    }
}

/// An absolute URI (a scheme, a colon, something after it, no white space).
pub fn is_uri(s: &str) -> bool {
    s.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    }) && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn catalogue() -> Catalogue {
        let mut c = Catalogue::default();
        let p: Product = serde_json::from_value(serde_json::json!({
            "code": "PJ-1", "name": "Projector", "gtin": "10614141073464", "tracking": "serial"
        }))
        .unwrap();
        c.insert(&p);
        c
    }

    #[test]
    fn sgtin_urn_and_digital_link_name_the_same_unit_and_read_back() {
        let c = catalogue();
        let a = unit(&c, "urn:epc:id:sgtin:0614141.107346.2017").unwrap();
        let b = unit(&c, "https://id.gs1.org/01/10614141073464/21/2017").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.product.as_str(), "PJ-1");
        assert_eq!(
            unit_uri(&c, &a),
            "https://id.gs1.org/01/10614141073464/21/2017"
        );
        let other = ItemKey {
            product: ProductCode::parse("X-1").unwrap(),
            serial: Serial::parse("A/1 ä").unwrap(),
        };
        assert_eq!(unit(&c, &unit_uri(&c, &other)).unwrap(), other);
    }

    #[test]
    fn places_and_parties_are_glns_or_threadline_urns() {
        let l = location("urn:epc:id:sgln:0614141.07346.1234").unwrap();
        assert_eq!(l.as_str(), "0614141073467.1234");
        assert_eq!(
            location_uri(&l),
            "https://id.gs1.org/414/0614141073467/254/1234"
        );
        let own = LocationCode::parse("SZ-L1").unwrap();
        assert_eq!(location(&location_uri(&own)).unwrap(), own);
        let p = party("urn:epc:id:pgln:4012345.00000").unwrap();
        assert_eq!(party_uri(&p), "https://id.gs1.org/417/4012345000009");
        assert_eq!(transaction(&transaction_uri("WO 1")).unwrap(), "WO 1");
        assert_eq!(transaction_uri("urn:x:1"), "urn:x:1");
    }

    #[test]
    fn unknown_gtins_are_refused_as_units_and_recorded_as_given_objects_and_classes() {
        let c = catalogue();
        assert_eq!(
            unit(&c, "urn:epc:id:sgtin:4012345.011111.1")
                .unwrap_err()
                .code,
            "unknown_gtin"
        );
        assert_eq!(
            unit(&c, "urn:epc:id:grai:4012345.55555.987")
                .unwrap_err()
                .code,
            "unsupported_identifier"
        );
        // An SSCC is a container: a registered one, else one of the default product.
        let pallet = ItemKey {
            product: ProductCode::parse("PALLET").unwrap(),
            serial: Serial::parse("040123450000003338").unwrap(),
        };
        let mut with = c.clone();
        with.insert_sscc("040123450000003338", pallet.clone());
        assert_eq!(
            unit(&with, "urn:epc:id:sscc:4012345.0000000333").unwrap(),
            pallet
        );
        let default = unit(&c, "https://id.gs1.org/00/040123450000003338").unwrap();
        assert_eq!(default.product.as_str(), SSCC_PRODUCT);
        assert_eq!(
            ssccs([
                "urn:epc:id:sscc:4012345.0000000333",
                "urn:epc:id:grai:4012345.55555.987"
            ]),
            ["040123450000003338"]
        );
        // Other keys and other URIs are objects recorded as given; what is no URI, a
        // malformed key, or a class where an object belongs is refused.
        for other in [
            "urn:epc:id:grai:4012345.55555.987",
            "https://id.gs1.org/8004/4000001111",
            "urn:epc:id:sgln:4012345.00001.0",
            "urn:epc:id:itip:4012345.012345.01.02.999",
            "urn:example:tote:7",
        ] {
            assert_eq!(object(&c, other).unwrap(), Object::Untracked, "{other}");
        }
        assert_eq!(
            object(&c, "PALLET 7").unwrap_err().code,
            "invalid_identifier"
        );
        assert_eq!(
            object(&c, "urn:epc:id:sscc:4012345.00000003")
                .unwrap_err()
                .code,
            "invalid_epc_urn"
        );
        assert_eq!(
            object(&c, "urn:epc:idpat:sgtin:0614141.107346.*")
                .unwrap_err()
                .code,
            "unsupported_identifier"
        );
        assert_eq!(
            class(&c, "urn:epc:idpat:sgtin:0614141.107346.*").unwrap(),
            Class::Product(ProductCode::parse("PJ-1").unwrap())
        );
        assert_eq!(
            class(&c, "urn:epc:idpat:grai:4012345.66666.*").unwrap(),
            Class::Untracked
        );
        // A partner's own product (a GTIN no product holds) is recorded as given, as an
        // object, a lot class or a product class; a query for it is judged as given too.
        for other in [
            "urn:epc:id:sgtin:4012345.011111.1",
            "https://id.gs1.org/01/04012345111118/21/1",
        ] {
            assert_eq!(object(&c, other).unwrap(), Object::Untracked, "{other}");
            assert_eq!(pattern(&c, other).unwrap(), Pattern::Other, "{other}");
        }
        for other in [
            "urn:epc:idpat:sgtin:4012345.011111.*",
            "urn:epc:class:lgtin:4012345.011111.L7",
            "https://id.gs1.org/01/04012345111118/10/L7",
        ] {
            assert_eq!(class(&c, other).unwrap(), Class::Untracked, "{other}");
            assert_eq!(pattern(&c, other).unwrap(), Pattern::Other, "{other}");
        }
        // Malformed, they are still refused.
        assert_eq!(
            object(&c, "https://id.gs1.org/01/04012345111119/21/1")
                .unwrap_err()
                .code,
            "invalid_check_digit"
        );
        assert_eq!(
            pattern(&c, "urn:epc:idpat:sgtin:0614141.107346.*").unwrap(),
            Pattern::Product(ProductCode::parse("PJ-1").unwrap())
        );
    }
}
