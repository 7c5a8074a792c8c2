//! `GS1-EPC-Format`: whether the identifiers in an answer are GS1 Digital Link URIs or EPC
//! URNs. Threadline holds and writes every GS1 key as a canonical Digital Link; a client that
//! asks `Always_EPC_URN` gets EPC URNs, one that asks `Always_GS1_Digital_Link` gets Digital
//! Links even where an event kept an EPC URN verbatim (a sensor's `deviceID`). A Digital Link
//! becomes a URN only when the length of its GS1 Company Prefix is known — it cannot be read
//! from the key — so the server is told the company prefixes it may meet
//! ([`CompanyPrefixes`]); an identifier under none of them stays a Digital Link.

use serde_json::{Map, Value};
use threadline_domain::error::FieldError;
use threadline_gs1::{ElementString, EpcUrn};

/// What a client asks for in `GS1-EPC-Format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpcFormat {
    /// The server chooses: Digital Links.
    NoPreference,
    DigitalLink,
    Urn,
    /// As captured: each identifier in the form it was sent in ([`as_captured`]); what
    /// Threadline recorded itself, as held (Digital Links).
    NeverTranslates,
}

impl EpcFormat {
    /// The header's value; absent is `No_Preference`, anything else is refused naming it.
    pub fn parse(value: Option<&str>) -> Result<Self, FieldError> {
        Ok(match value.map(str::trim) {
            None | Some("No_Preference") => EpcFormat::NoPreference,
            Some("Always_GS1_Digital_Link") => EpcFormat::DigitalLink,
            Some("Always_EPC_URN") => EpcFormat::Urn,
            Some("Never_Translates") => EpcFormat::NeverTranslates,
            Some(other) => {
                return Err(FieldError::new(
                    "invalid_value",
                    format!(
                        "`{other}` is not No_Preference, Always_GS1_Digital_Link, Always_EPC_URN or Never_Translates"
                    ),
                )
                .at("GS1-EPC-Format"));
            }
        })
    }

    /// The format an answer is written in, as its `GS1-EPC-Format` header says.
    pub fn applied(self) -> &'static str {
        match self {
            EpcFormat::NoPreference | EpcFormat::DigitalLink => "Always_GS1_Digital_Link",
            EpcFormat::Urn => "Always_EPC_URN",
            EpcFormat::NeverTranslates => "Never_Translates",
        }
    }
}

/// The GS1 Company Prefixes identifiers may fall under (the plant's own and its partners'),
/// each 6 to 12 digits; the longest that starts a key gives its length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompanyPrefixes(Vec<String>);

impl CompanyPrefixes {
    /// Keeps the prefixes of 6 to 12 digits, longest first; others are refused by value.
    pub fn new(list: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut out = Vec::new();
        for p in list {
            let p = p.trim().to_owned();
            if !(6..=12).contains(&p.len()) || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "`{p}` is not a GS1 Company Prefix (6 to 12 digits)"
                ));
            }
            out.push(p);
        }
        out.sort_by_key(|p| std::cmp::Reverse(p.len()));
        Ok(CompanyPrefixes(out))
    }

    /// The company prefix length inside the GS1 key of `es`, if one is configured.
    fn length_in(&self, es: &ElementString) -> Option<usize> {
        let key = es.elements().first()?;
        // GTIN, SSCC and GRAI lead with an indicator or extension digit (GRAI with a 0).
        let digits = match key.ai() {
            "01" | "00" | "8003" => key.value().get(1..)?,
            _ => key.value(),
        };
        self.0
            .iter()
            .find(|p| digits.starts_with(p.as_str()))
            .map(String::len)
    }
}

/// The EPC URN of a Digital Link (or of an EPC URN: itself), when its company prefix is known.
pub fn to_urn(uri: &str, prefixes: &CompanyPrefixes) -> Option<String> {
    if uri.starts_with("urn:epc:") {
        return None;
    }
    let es = crate::ids::gs1_keys(uri).ok().flatten()?;
    let len = prefixes.length_in(&es)?;
    EpcUrn::from_element_string(&es, len)
        .ok()
        .map(|u| u.to_urn())
}

/// The canonical Digital Link of an EPC URN.
pub fn to_digital_link(uri: &str) -> Option<String> {
    if !uri.starts_with("urn:epc:") {
        return None;
    }
    EpcUrn::parse(uri)
        .ok()
        .map(|u| u.to_digital_link().to_canonical_uri())
}

/// Rewrites the identifiers of an event's EPCIS form (EPC lists, `parentID`, quantity
/// classes, read point and business location, sources, destinations, business transactions,
/// sensor devices) as `format` asks. Other values — extensions, ILMD — are the partner's and
/// stay as they are.
pub fn reformat(ev: &mut Map<String, Value>, format: EpcFormat, prefixes: &CompanyPrefixes) {
    let convert = |v: &mut Value| {
        let Value::String(s) = v else { return };
        let new = match format {
            EpcFormat::Urn => to_urn(s, prefixes),
            EpcFormat::DigitalLink | EpcFormat::NoPreference => to_digital_link(s),
            EpcFormat::NeverTranslates => None,
        };
        if let Some(n) = new {
            *s = n;
        }
    };
    each_identifier(ev, convert);
}

/// The key in an event's kept EPCIS content (`Event::epcis`) of the identifiers it was
/// captured with as EPC URNs: each held Digital Link maps to the URN as sent.
pub const CAPTURED_FORMS: &str = "capturedEpcForms";

/// The identifiers of a captured event's EPCIS form that were sent as EPC URNs, by the
/// Digital Link Threadline holds them as.
pub fn captured_forms(ev: &Map<String, Value>) -> Map<String, Value> {
    let mut copy = ev.clone();
    let mut out = Map::new();
    each_identifier(&mut copy, |v| {
        if let Value::String(s) = v
            && let Some(dl) = to_digital_link(s)
        {
            out.insert(dl, Value::String(s.clone()));
        }
    });
    out
}

/// `GS1-EPC-Format: Never_Translates` — "the original format is kept": puts back each
/// identifier of an event's EPCIS form that was captured as an EPC URN (`forms`, what
/// [`captured_forms`] kept). Identifiers Threadline made, or that were captured as Digital
/// Links, stay Digital Links.
pub fn as_captured(ev: &mut Map<String, Value>, forms: Option<&Value>) {
    let Some(Value::Object(forms)) = forms else {
        return;
    };
    each_identifier(ev, |v| {
        if let Value::String(s) = v
            && let Some(Value::String(sent)) = forms.get(s.as_str())
        {
            *s = sent.clone();
        }
    });
}

/// [`reformat`] for every event of an `EPCISQueryDocument` (JSON-LD).
pub fn reformat_document(doc: &mut Value, format: EpcFormat, prefixes: &CompanyPrefixes) {
    if let Some(list) = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array_mut()
    {
        for ev in list.iter_mut().filter_map(Value::as_object_mut) {
            reformat(ev, format, prefixes);
        }
    }
}

fn each_identifier(ev: &mut Map<String, Value>, mut f: impl FnMut(&mut Value)) {
    let items = |v: Option<&mut Value>, key: Option<&str>, f: &mut dyn FnMut(&mut Value)| {
        if let Some(Value::Array(a)) = v {
            for x in a {
                match key {
                    Some(k) => {
                        if let Some(y) = x.get_mut(k) {
                            f(y);
                        }
                    }
                    None => f(x),
                }
            }
        }
    };
    for list in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        items(ev.get_mut(list), None, &mut f);
    }
    for list in [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ] {
        items(ev.get_mut(list), Some("epcClass"), &mut f);
    }
    items(ev.get_mut("sourceList"), Some("source"), &mut f);
    items(ev.get_mut("destinationList"), Some("destination"), &mut f);
    items(
        ev.get_mut("bizTransactionList"),
        Some("bizTransaction"),
        &mut f,
    );
    if let Some(p) = ev.get_mut("parentID") {
        f(p);
    }
    for place in ["readPoint", "bizLocation"] {
        if let Some(id) = ev.get_mut(place).and_then(|p| p.get_mut("id")) {
            f(id);
        }
    }
    if let Some(Value::Array(sensors)) = ev.get_mut("sensorElementList") {
        for s in sensors {
            if let Some(d) = s
                .get_mut("sensorMetadata")
                .and_then(|m| m.get_mut("deviceID"))
            {
                f(d);
            }
            items(s.get_mut("sensorReport"), Some("deviceID"), &mut f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prefixes() -> CompanyPrefixes {
        CompanyPrefixes::new(["0614141".to_owned(), "4000001".to_owned()]).unwrap_or_default()
    }

    fn event() -> Map<String, Value> {
        json!({"type": "ObjectEvent",
            "epcList": ["https://id.gs1.org/01/10614141073464/21/2017", "https://id.gs1.org/01/09521234543213/21/7"],
            "parentID": "https://id.gs1.org/00/106141412345678908",
            "quantityList": [{"epcClass": "https://id.gs1.org/01/10614141073464/10/L1", "quantity": 3},
                             {"epcClass": "https://id.gs1.org/01/10614141073464"}],
            "readPoint": {"id": "https://id.gs1.org/414/0614141073467/254/1234"},
            "bizLocation": {"id": "https://id.gs1.org/414/0614141000005"},
            "sourceList": [{"type": "owning_party", "source": "https://id.gs1.org/417/0614141000005"}],
            "bizTransactionList": [{"type": "po", "bizTransaction": "http://transaction.acme.com/po/12345678"}],
            "sensorElementList": [{"sensorMetadata": {"deviceID": "urn:epc:id:giai:4000001.111"},
                                   "sensorReport": [{"type": "Temperature", "deviceID": "urn:epc:id:giai:4000001.111"}]}],
            "example:myField": "https://id.gs1.org/01/10614141073464/21/2017"})
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn urns_and_digital_links_both_ways() {
        let mut ev = event();
        reformat(&mut ev, EpcFormat::Urn, &prefixes());
        assert_eq!(
            ev["epcList"],
            json!([
                "urn:epc:id:sgtin:0614141.107346.2017",
                // No company prefix known for 952…: it stays a Digital Link.
                "https://id.gs1.org/01/09521234543213/21/7"
            ])
        );
        assert_eq!(ev["parentID"], "urn:epc:id:sscc:0614141.1234567890");
        assert_eq!(
            ev["quantityList"][0]["epcClass"],
            "urn:epc:class:lgtin:0614141.107346.L1"
        );
        assert_eq!(
            ev["quantityList"][1]["epcClass"],
            "urn:epc:idpat:sgtin:0614141.107346.*"
        );
        assert_eq!(ev["readPoint"]["id"], "urn:epc:id:sgln:0614141.07346.1234");
        assert_eq!(ev["bizLocation"]["id"], "urn:epc:id:sgln:0614141.00000.0");
        assert_eq!(
            ev["sourceList"][0]["source"],
            "urn:epc:id:pgln:0614141.00000"
        );
        assert_eq!(
            ev["bizTransactionList"][0]["bizTransaction"],
            "http://transaction.acme.com/po/12345678"
        );
        assert_eq!(
            ev["example:myField"], "https://id.gs1.org/01/10614141073464/21/2017",
            "an extension is the partner's"
        );

        // And back: every URN is a Digital Link again, the sensor's verbatim URN too.
        reformat(&mut ev, EpcFormat::DigitalLink, &prefixes());
        let mut want = event();
        want["sensorElementList"] = json!([{"sensorMetadata": {"deviceID": "https://id.gs1.org/8004/4000001111"},
            "sensorReport": [{"type": "Temperature", "deviceID": "https://id.gs1.org/8004/4000001111"}]}]);
        assert_eq!(ev, want);

        let mut kept = event();
        reformat(&mut kept, EpcFormat::NeverTranslates, &prefixes());
        assert_eq!(kept, event());
    }

    #[test]
    fn the_header_and_the_prefixes_are_checked() {
        assert_eq!(EpcFormat::parse(None), Ok(EpcFormat::NoPreference));
        assert_eq!(
            EpcFormat::parse(Some("Always_EPC_URN")).map(EpcFormat::applied),
            Ok("Always_EPC_URN")
        );
        assert_eq!(EpcFormat::NoPreference.applied(), "Always_GS1_Digital_Link");
        let e = EpcFormat::parse(Some("urn")).err();
        assert_eq!(e.and_then(|e| e.field).as_deref(), Some("GS1-EPC-Format"));
        assert!(CompanyPrefixes::new(["12345".to_owned()]).is_err());
        assert!(CompanyPrefixes::new(["06141x1".to_owned()]).is_err());
    }
}
