//! One scan parser: whatever a scanner delivers — a raw serial, a GS1 element string (with
//! FNC1/GS and a symbology identifier), a bracketed HRI string, a Digital Link URI or an EPC
//! URN — resolves to the unit, lot or product it names, or to an error saying why not.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use threadline_domain::codes::{ItemKey, LotKey};
use threadline_domain::error::FieldError;
use threadline_domain::master::Product;
use threadline_domain::{LotCode, Serial};
use threadline_gs1::scan::{Scan, parse_scan};
use threadline_store::{ItemView, LotView, Store, Versioned};

use crate::AppState;
use crate::error::AppError;

/// What a scan names.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolved {
    Item { item: ItemView },
    Lot { lot: LotView },
    Product { product: Versioned<Product> },
}

/// How the scan was read, for the person checking a label.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScanReading {
    /// `element_string`, `digital_link`, `epc_urn` or `plain`.
    pub form: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gtin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
}

fn refuse(code: &'static str, message: String) -> AppError {
    AppError::Rule(vec![FieldError::new(code, message).at("code")])
}

/// Reads one scanned string: what it is and how it was read, before anything is looked up.
pub fn read(input: &str, reference_year: i32) -> Result<(Scan, ScanReading), AppError> {
    let scan = parse_scan(input).map_err(|e| AppError::Rule(vec![e.at("code")]))?;
    let reading = ScanReading {
        form: scan.kind(),
        gtin: scan.gtin().map(|g| g.to_string()),
        serial: scan.serial().map(str::to_owned),
        lot: scan.lot().map(str::to_owned),
        expiry: scan
            .expiry()
            .and_then(|d| d.to_date(reference_year).map(|d| d.to_string())),
    };
    Ok((scan, reading))
}

/// Resolves one scanned string.
///
/// `reference_year` is this year: GS1 dates carry two-digit years, read in a window around it.
pub async fn resolve(
    store: &dyn Store,
    input: &str,
    reference_year: i32,
) -> Result<(Resolved, ScanReading), AppError> {
    let (scan, reading) = read(input, reference_year)?;
    if let Scan::Plain(text) = &scan {
        let serial = Serial::parse(text).map_err(|e| AppError::Rule(vec![e.at("code")]))?;
        let found = store.items_by_serial(serial.as_str(), 10).await?;
        return match found.as_slice() {
            [] => Err(AppError::NotFound(format!("no unit has serial {serial}"))),
            [key] => {
                let item = store
                    .item(key)
                    .await?
                    .ok_or_else(|| AppError::NotFound(format!("no unit has serial {serial}")))?;
                Ok((Resolved::Item { item }, reading))
            }
            many => Err(refuse(
                "ambiguous_serial",
                format!(
                    "serial {serial} belongs to units of several products ({}); scan the GS1 code or choose the product",
                    many.iter()
                        .map(|k| k.product.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        };
    }
    if let Some(sscc) = scan.sscc() {
        // A container unit whose serial is the SSCC (packed with `ops/pack`, or registered
        // when an EPCIS capture first named it).
        let sscc = sscc.as_str();
        let mut found = Vec::new();
        for key in store.items_by_serial(sscc, 10).await? {
            if store
                .product(key.product.as_str())
                .await?
                .is_some_and(|p| p.def.container)
                && let Some(item) = store.item(&key).await?
            {
                found.push(item);
            }
        }
        return match found.len() {
            0 => Err(AppError::NotFound(format!("no container has SSCC {sscc}"))),
            1 => Ok((
                Resolved::Item {
                    item: found.remove(0),
                },
                reading,
            )),
            _ => Err(refuse(
                "ambiguous_serial",
                format!(
                    "SSCC {sscc} is a unit of several container products ({}); choose the product",
                    found
                        .iter()
                        .map(|i| i.product.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        };
    }
    let Some(gtin) = scan.gtin() else {
        return Err(refuse(
            "no_identifier",
            format!(
                "`{}` names no product, unit or lot that Threadline tracks",
                input.trim()
            ),
        ));
    };
    let Some(product) = store.product_by_gtin(gtin.as_str()).await? else {
        return Err(refuse(
            "unknown_gtin",
            format!("no product has GTIN {gtin}"),
        ));
    };
    if let Some(serial) = scan.serial() {
        let key = ItemKey {
            product: product.def.code.clone(),
            serial: Serial::parse(serial).map_err(|e| AppError::Rule(vec![e.at("code")]))?,
        };
        return match store.item(&key).await? {
            Some(item) => Ok((Resolved::Item { item }, reading)),
            None => Err(AppError::NotFound(format!(
                "serial {serial} of {} (GTIN {gtin}) is not registered",
                product.def.code
            ))),
        };
    }
    if let Some(lot) = scan.lot() {
        let key = LotKey {
            product: product.def.code.clone(),
            lot: LotCode::parse(lot).map_err(|e| AppError::Rule(vec![e.at("code")]))?,
        };
        return match store.lot(&key).await? {
            Some(lot) => Ok((Resolved::Lot { lot }, reading)),
            None => Err(AppError::NotFound(format!(
                "lot {lot} of {} (GTIN {gtin}) is not registered",
                product.def.code
            ))),
        };
    }
    Ok((Resolved::Product { product }, reading))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanParams {
    code: String,
}

/// `GET /api/v1/scan?code=…`
pub async fn scan(
    State(app): State<AppState>,
    actor: crate::auth::Actor,
    params: Result<Query<ScanParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    let Query(p) = params
        .map_err(|e| AppError::malformed("invalid_query", e.body_text(), Some("code".into())))?;
    let year = chrono::Datelike::year(&app.clock.now());
    let (resolved, reading) =
        crate::passport::unit_of_code(&*app.store, &actor, &p.code, year).await?;
    let resolved = match resolved {
        Resolved::Item { item } => Resolved::Item {
            item: actor.masked(item),
        },
        other => other,
    };
    Ok(Json(serde_json::json!({ "resolved": resolved, "scan": reading })).into_response())
}
