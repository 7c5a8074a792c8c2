//! `/dashboard`: quality (first-pass yield and defect rate by line, product, lot or supplier
//! over time), units by state and location, the sales channel (what each distributor holds
//! and sold, by region) and the service desk (repair turnaround, top fault and defect codes).
//! Every number comes from the store's dashboard queries; the charts are SVG written here.
//! A distributor's account sees only its own part of the channel; an account of one site the
//! figures of its site — inspections and repairs recorded there, units there now —, of the
//! sales channel only the diversions of units its site saw, and the authenticity alerts about
//! those units (the plant's holdings and sales by region are the plant's). Above them all, the
//! partners' reports that differed from Threadline in the last 30 days, those past a hold
//! first (`crate::discrepancies`; an account of one site those of its site; a distributor's
//! dashboard has none).

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, Days, FixedOffset, Months, NaiveDate, TimeZone, Utc};
use threadline_domain::projection::ItemStatus;
use threadline_store::dashboard::{Period, QcBy, QcRow, ServiceStats, Window, ZoneOffsets};

use super::chart::{self, Bar, Series};
use super::{esc, lang_of_request, lang_param, page_with, table};
use crate::AppState;
use crate::auth::Actor;
use crate::i18n::{self, Lang, Msg, t};

/// The dashboard's filter as the query string gives it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Params {
    by: Option<String>,
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
}

/// The filter, read and checked.
struct Filter {
    by: QcBy,
    period: Period,
    from: NaiveDate,
    /// Inclusive.
    to: NaiveDate,
    tz: Zone,
}

/// Where days are cut: at midnight of a fixed offset, or of a time zone, whose offset changes
/// with summer time.
#[derive(Debug, Clone, Copy)]
enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// An offset (`+08:00`, `UTC`) or a time zone's name (`Asia/Shanghai`, `Europe/Berlin`).
    fn parse(s: &str) -> Option<Zone> {
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return FixedOffset::east_opt(0).map(Zone::Fixed);
        }
        if let Ok(zone) = s.parse::<chrono_tz::Tz>() {
            return Some(Zone::Named(zone));
        }
        s.parse::<FixedOffset>().ok().map(Zone::Fixed)
    }

    fn date_of(self, t: DateTime<Utc>) -> NaiveDate {
        match self {
            Zone::Fixed(o) => t.with_timezone(&o).date_naive(),
            Zone::Named(z) => t.with_timezone(&z).date_naive(),
        }
    }

    /// The first moment of the local day `d`: its midnight, or when a zone skips midnight
    /// (summer time starting at 00:00), the first hour that exists.
    fn start_of(self, d: NaiveDate) -> DateTime<Utc> {
        (0..24)
            .filter_map(|h| d.and_hms_opt(h, 0, 0))
            .find_map(|t| match self {
                Zone::Fixed(o) => o.from_local_datetime(&t).earliest().map(|t| t.to_utc()),
                Zone::Named(z) => z.from_local_datetime(&t).earliest().map(|t| t.to_utc()),
            })
            .unwrap_or_default()
    }

    fn offsets(self, from: DateTime<Utc>, to: DateTime<Utc>) -> ZoneOffsets {
        match self {
            Zone::Fixed(o) => ZoneOffsets::fixed(o.local_minus_utc()),
            Zone::Named(z) => ZoneOffsets::of_zone(z, from, to),
        }
    }
}

impl Filter {
    /// Reads the filter; a wrong value is named by its field.
    /// Days are cut in `default_tz` (the plant's time zone) unless the filter names another.
    fn read(
        p: &Params,
        now: DateTime<Utc>,
        default_tz: &str,
    ) -> Result<Filter, (&'static str, String)> {
        let by = match p.by.as_deref().filter(|s| !s.is_empty()) {
            None => QcBy::Line,
            Some(s) => QcBy::parse(s).ok_or(("by", s.to_owned()))?,
        };
        let period = match p.period.as_deref().filter(|s| !s.is_empty()) {
            None => Period::Week,
            Some(s) => Period::parse(s).ok_or(("period", s.to_owned()))?,
        };
        let tz_text =
            p.tz.as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or(default_tz);
        let tz = Zone::parse(tz_text).ok_or(("tz", tz_text.to_owned()))?;
        let date = |field: &'static str, v: &Option<String>| -> Result<Option<NaiveDate>, _> {
            match v.as_deref().filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| (field, s.to_owned())),
            }
        };
        let to = date("to", &p.to)?.unwrap_or_else(|| tz.date_of(now));
        let from = date("from", &p.from)?
            .unwrap_or_else(|| to.checked_sub_days(Days::new(83)).unwrap_or(to));
        if from > to {
            return Err(("from", p.from.clone().unwrap_or_default()));
        }
        let longest = match period {
            Period::Day => 366,
            Period::Week | Period::Month => 366 * 5,
        };
        if (to - from).num_days() > longest {
            return Err(("from", p.from.clone().unwrap_or_default()));
        }
        Ok(Filter {
            by,
            period,
            from,
            to,
            tz,
        })
    }

    fn window(&self) -> Window {
        let from = self.tz.start_of(self.from);
        let to = self
            .tz
            .start_of(self.to.checked_add_days(Days::new(1)).unwrap_or(self.to));
        Window {
            from,
            to,
            period: self.period,
            zone: self.tz.offsets(from, to),
            places: None,
        }
    }

    /// The first day of every period the window touches, as the store writes them.
    fn periods(&self) -> Vec<NaiveDate> {
        let first = match self.period {
            Period::Day => self.from,
            Period::Week => self
                .from
                .checked_sub_days(Days::new(u64::from(
                    self.from.weekday().num_days_from_monday(),
                )))
                .unwrap_or(self.from),
            Period::Month => self.from.with_day(1).unwrap_or(self.from),
        };
        let mut out = Vec::new();
        let mut d = first;
        while d <= self.to && out.len() < 2000 {
            out.push(d);
            let next = match self.period {
                Period::Day => d.checked_add_days(Days::new(1)),
                Period::Week => d.checked_add_days(Days::new(7)),
                Period::Month => d.checked_add_months(Months::new(1)),
            };
            match next {
                Some(n) => d = n,
                None => break,
            }
        }
        out
    }
}

fn period_label(lang: Lang, period: Period, d: NaiveDate) -> String {
    match period {
        Period::Month => i18n::month(lang, d),
        Period::Day | Period::Week => i18n::short_date(lang, d),
    }
}

fn by_label(lang: Lang, by: QcBy) -> &'static str {
    t(
        lang,
        match by {
            QcBy::Line => Msg::ByLine,
            QcBy::Product => Msg::Product,
            QcBy::Lot => Msg::Lot,
            QcBy::Supplier => Msg::BySupplier,
        },
    )
}

fn group_name(lang: Lang, g: &Option<String>) -> String {
    g.clone()
        .unwrap_or_else(|| t(lang, Msg::Unspecified).to_owned())
}

fn options(current: &str, choices: &[(&str, &str)]) -> String {
    choices
        .iter()
        .map(|(v, label)| {
            format!(
                "<option value=\"{v}\"{sel}>{label}</option>",
                sel = if *v == current { " selected" } else { "" },
                label = esc(label),
            )
        })
        .collect()
}

fn filter_form(lang: Lang, f: &Filter, tz_text: &str) -> String {
    let by: Vec<(&str, &str)> = QcBy::ALL
        .iter()
        .map(|b| (b.as_str(), by_label(lang, *b)))
        .collect();
    let periods = [
        ("day", t(lang, Msg::Day)),
        ("week", t(lang, Msg::Week)),
        ("month", t(lang, Msg::Month)),
    ];
    format!(
        "<form id=\"filter\" method=\"get\" action=\"/dashboard\" class=\"inline\"><input type=\"hidden\" name=\"lang\" value=\"{l}\">\
         <div><label for=\"d-by\">{gb}</label><select id=\"d-by\" name=\"by\">{byo}</select></div>\
         <div><label for=\"d-period\">{pl}</label><select id=\"d-period\" name=\"period\">{po}</select></div>\
         <div><label for=\"d-from\">{fl}</label><input id=\"d-from\" name=\"from\" type=\"date\" value=\"{from}\"></div>\
         <div><label for=\"d-to\">{tl}</label><input id=\"d-to\" name=\"to\" type=\"date\" value=\"{to}\"></div>\
         <div><label for=\"d-tz\">{zl}</label><input id=\"d-tz\" name=\"tz\" value=\"{tz}\" placeholder=\"+08:00\" inputmode=\"text\"></div>\
         <button type=\"submit\">{show}</button></form>",
        l = lang_param(lang),
        gb = t(lang, Msg::GroupBy),
        byo = options(f.by.as_str(), &by),
        pl = t(lang, Msg::Period),
        po = options(f.period.as_str(), &periods),
        fl = t(lang, Msg::DateFrom),
        from = f.from,
        tl = t(lang, Msg::DateTo),
        to = f.to,
        zl = t(lang, Msg::TimeZone),
        tz = esc(tz_text),
        show = t(lang, Msg::Show),
    )
}

fn kpi(id: &str, label: &str, value: &str) -> String {
    format!(
        "<div class=\"kpi\" id=\"{id}\"><div class=\"num\">{}</div><div class=\"muted\">{}</div></div>",
        esc(value),
        esc(label)
    )
}

/// Two blocks side by side (one above the other on a narrow screen), each under its heading.
fn pair(a: (&str, String), b: (&str, String)) -> String {
    format!(
        "<div class=\"cols\"><div><h3>{}</h3>{}</div><div><h3>{}</h3>{}</div></div>",
        a.0, a.1, b.0, b.1
    )
}

fn no_data(lang: Lang) -> String {
    format!("<p class=\"muted\">{}</p>", t(lang, Msg::NoData))
}

/// Per group: the rows by period and the totals.
struct QcGroup {
    name: String,
    by_period: BTreeMap<String, QcRow>,
    total: [i64; 4],
}

fn qc_groups(lang: Lang, rows: &[QcRow]) -> Vec<QcGroup> {
    let mut groups: BTreeMap<String, QcGroup> = BTreeMap::new();
    for r in rows {
        let name = group_name(lang, &r.group);
        let g = groups.entry(name.clone()).or_insert_with(|| QcGroup {
            name,
            by_period: BTreeMap::new(),
            total: [0; 4],
        });
        g.total[0] += r.first_inspected;
        g.total[1] += r.first_passed;
        g.total[2] += r.inspections;
        g.total[3] += r.failed;
        g.by_period.insert(r.period.clone(), r.clone());
    }
    let mut out: Vec<QcGroup> = groups.into_values().collect();
    out.sort_by(|a, b| b.total[2].cmp(&a.total[2]).then(a.name.cmp(&b.name)));
    out
}

fn quality(lang: Lang, f: &Filter, rows: &[QcRow], overall: &[QcRow]) -> String {
    let sum = |k: fn(&QcRow) -> i64| overall.iter().map(k).sum::<i64>();
    let (fi, fp, ins, fl) = (
        sum(|r| r.first_inspected),
        sum(|r| r.first_passed),
        sum(|r| r.inspections),
        sum(|r| r.failed),
    );
    let kpis = format!(
        "<div class=\"kpis\">{}{}{}{}</div>",
        kpi(
            "kpi-fpy",
            t(lang, Msg::FirstPassYield),
            &i18n::pct(lang, fp, fi)
        ),
        kpi(
            "kpi-defects",
            t(lang, Msg::DefectRate),
            &i18n::pct(lang, fl, ins)
        ),
        kpi(
            "kpi-first",
            t(lang, Msg::FirstInspected),
            &i18n::int(lang, fi)
        ),
        kpi(
            "kpi-inspections",
            t(lang, Msg::Inspections),
            &i18n::int(lang, ins)
        ),
    );
    let groups = qc_groups(lang, rows);
    if groups.is_empty() {
        return format!(
            "<section id=\"quality\"><h2>{}</h2>{kpis}{}</section>",
            t(lang, Msg::Quality),
            no_data(lang)
        );
    }
    let periods = f.periods();
    let labels: Vec<String> = periods
        .iter()
        .map(|d| period_label(lang, f.period, *d))
        .collect();
    let keys: Vec<String> = periods.iter().map(|d| d.to_string()).collect();
    let shown = &groups[..groups.len().min(chart::PALETTE.len())];
    let series = |num: fn(&QcRow) -> (i64, i64)| -> Vec<Series> {
        shown
            .iter()
            .map(|g| Series {
                name: g.name.clone(),
                values: keys
                    .iter()
                    .map(|k| {
                        g.by_period.get(k).and_then(|r| {
                            let (n, d) = num(r);
                            (d > 0).then(|| n as f64 * 100.0 / d as f64)
                        })
                    })
                    .collect(),
            })
            .collect()
    };
    let fmt_pct = |v: f64| {
        let places = if (v.round() - v).abs() < 1e-9 { 0 } else { 1 };
        format!("{}%", i18n::decimal(lang, v, places))
    };
    let fpy = series(|r| (r.first_passed, r.first_inspected));
    let defects = series(|r| (r.failed, r.inspections));
    let max_defect = chart::nice_max(
        defects
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .fold(0.0, f64::max),
    )
    .min(100.0);
    let rows: String = groups
        .iter()
        .map(|g| {
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&g.name),
                i18n::int(lang, g.total[0]),
                i18n::pct(lang, g.total[1], g.total[0]),
                i18n::int(lang, g.total[2]),
                i18n::int(lang, g.total[3]),
                i18n::pct(lang, g.total[3], g.total[2]),
            )
        })
        .collect();
    let (fpyl, drl) = (t(lang, Msg::FirstPassYield), t(lang, Msg::DefectRate));
    let legend = chart::legend(&fpy);
    let charts = pair(
        (
            fpyl,
            format!(
                "{}{legend}",
                chart::lines("chart-fpy", fpyl, &labels, &fpy, 100.0, &fmt_pct)
            ),
        ),
        (
            drl,
            format!(
                "{}{legend}",
                chart::lines(
                    "chart-defects",
                    drl,
                    &labels,
                    &defects,
                    max_defect,
                    &fmt_pct
                )
            ),
        ),
    );
    let by = by_label(lang, f.by);
    let table = table(
        "qc-table",
        &[
            (by, false),
            (t(lang, Msg::FirstInspected), true),
            (fpyl, true),
            (t(lang, Msg::Inspections), true),
            (t(lang, Msg::Failed), true),
            (drl, true),
        ],
        &rows,
    );
    format!(
        "<section id=\"quality\"><h2>{q} · {by}</h2>{kpis}<p class=\"hint\">{hint}</p>{charts}{table}</section>",
        q = t(lang, Msg::Quality),
        hint = t(lang, Msg::QualityHint),
    )
}

fn status_name(lang: Lang, key: &Option<String>) -> String {
    match key.as_deref().and_then(ItemStatus::parse) {
        Some(s) => i18n::status(lang, s).to_owned(),
        None => group_name(lang, key),
    }
}

/// Counts as bars, titled by `title`, each key named by `name`.
fn count_bars(
    lang: Lang,
    id: &str,
    title: Msg,
    rows: &[threadline_store::dashboard::Count],
    name: &dyn Fn(&Option<String>) -> String,
    color: &str,
) -> (&'static str, String) {
    if rows.is_empty() {
        return (t(lang, title), no_data(lang));
    }
    let bars: Vec<Bar> = rows
        .iter()
        .map(|c| Bar {
            label: name(&c.key),
            value: c.count as f64,
            shown: i18n::int(lang, c.count),
            href: None,
        })
        .collect();
    (
        t(lang, title),
        chart::hbars(id, t(lang, title), &bars, color),
    )
}

async fn units(
    app: &AppState,
    lang: Lang,
    places: Option<&[String]>,
) -> Result<String, crate::error::AppError> {
    let u = app.store.unit_counts(places).await?;
    let status = |k: &Option<String>| status_name(lang, k);
    let location = |k: &Option<String>| group_name(lang, k);
    Ok(format!(
        "<section id=\"units\"><h2>{}</h2>{}</section>",
        t(lang, Msg::UnitsNow),
        pair(
            count_bars(
                lang,
                "chart-status",
                Msg::UnitsByStatus,
                &u.by_status,
                &status,
                chart::PALETTE[0]
            ),
            count_bars(
                lang,
                "chart-location",
                Msg::UnitsByLocation,
                &u.by_location,
                &location,
                chart::PALETTE[5]
            ),
        ),
    ))
}

/// The sales channel in the window; for a partner, its own parties' holdings, sales and
/// diversions only.
async fn channel(
    app: &AppState,
    lang: Lang,
    w: &Window,
    partner: Option<&crate::partner::Partner>,
) -> Result<String, crate::error::AppError> {
    let mut c = app.store.channel(w).await?;
    if let Some(p) = partner {
        c.holdings.retain(|h| p.is_own(&h.distributor));
        c.sales
            .retain(|s| s.seller.as_deref().is_some_and(|s| p.is_own(s)));
    }
    let mut sold_by: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_region: BTreeMap<String, i64> = BTreeMap::new();
    for s in &c.sales {
        *sold_by
            .entry(s.seller.clone().unwrap_or_default())
            .or_default() += s.units;
        *by_region.entry(group_name(lang, &s.region)).or_default() += s.units;
    }
    let holdings = if c.holdings.is_empty() {
        no_data(lang)
    } else {
        let rows: String = c
            .holdings
            .iter()
            .map(|h| {
                format!(
                    "<tr><td>{code}</td><td>{name}</td><td>{regions}</td><td class=\"n\">{tr}</td><td class=\"n\">{st}</td><td class=\"n\">{sold}</td></tr>",
                    code = esc(&h.distributor),
                    name = esc(&h.name),
                    regions = esc(&h.regions.join(", ")),
                    tr = i18n::int(lang, h.in_transit),
                    st = i18n::int(lang, h.in_stock),
                    sold = i18n::int(lang, sold_by.get(&h.distributor).copied().unwrap_or(0)),
                )
            })
            .collect();
        table(
            "channel-table",
            &[
                (t(lang, Msg::Distributor), false),
                (t(lang, Msg::Name), false),
                (t(lang, Msg::Regions), false),
                (t(lang, Msg::InTransitTo), true),
                (t(lang, Msg::InStockAt), true),
                (t(lang, Msg::SoldInWindow), true),
            ],
            &rows,
        )
    };
    let mut regions: Vec<(String, i64)> = by_region.into_iter().collect();
    regions.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let region_chart = if regions.is_empty() {
        no_data(lang)
    } else {
        let bars: Vec<Bar> = regions
            .iter()
            .map(|(r, n)| Bar {
                label: r.clone(),
                value: *n as f64,
                shown: i18n::int(lang, *n),
                href: None,
            })
            .collect();
        chart::hbars(
            "chart-regions",
            t(lang, Msg::SoldByRegion),
            &bars,
            chart::PALETTE[2],
        )
    };
    let diverted = crate::channel::diversions(&*app.store, &c).await?;
    Ok(format!(
        "<section id=\"channel\"><h2>{h}</h2>{holdings}<h3>{sr}</h3>{region_chart}\
         <h3 id=\"diversions\">{dh}</h3><p class=\"hint\">{dhint}</p>{diversions}</section>",
        h = t(lang, Msg::ChannelView),
        sr = t(lang, Msg::SoldByRegion),
        dh = t(lang, Msg::Diversions),
        dhint = t(lang, Msg::DiversionsHint),
        diversions = diversions_table(lang, &diverted),
    ))
}

/// An account of one site's part of the channel: the diversions of units its site saw.
async fn site_channel(
    app: &AppState,
    lang: Lang,
    w: &Window,
    site: &mut crate::site::SiteScope,
) -> Result<String, crate::error::AppError> {
    let diverted = crate::channel::diversions_seen(&*app.store, site, w).await?;
    Ok(format!(
        "<section id=\"site-channel\"><h2 id=\"diversions\">{dh}</h2><p class=\"hint\">{dhint}</p>{table}</section>",
        dh = t(lang, Msg::Diversions),
        dhint = t(lang, Msg::DiversionsHint),
        table = diversions_table(lang, &diverted),
    ))
}

/// Sales outside their seller's authorised regions, as a table.
fn diversions_table(lang: Lang, diverted: &[crate::channel::DiversionRow]) -> String {
    if diverted.is_empty() {
        format!(
            "<p class=\"muted\" id=\"no-diversions\">{}</p>",
            t(lang, Msg::NoDiversions)
        )
    } else {
        let rows: String = diverted
            .iter()
            .map(|d| {
                format!(
                    "<tr class=\"bad\"><td>{seller}</td><td>{region}</td><td>{authorised}</td><td class=\"n\">{units}</td></tr>",
                    seller = esc(&d.seller),
                    region = esc(&d.region),
                    authorised = esc(&d.authorised.join(", ")),
                    units = i18n::int(lang, d.units),
                )
            })
            .collect();
        table(
            "diversions-table",
            &[
                (t(lang, Msg::Distributor), false),
                (t(lang, Msg::SoldInRegion), false),
                (t(lang, Msg::AuthorisedRegions), false),
                (t(lang, Msg::Units), true),
            ],
            &rows,
        )
    }
}

/// The suspicious and never-issued codes checked from outside in the window, latest first
/// (for an account of one site, `site`, those about units its site saw).
async fn authenticity(
    app: &AppState,
    lang: Lang,
    zone: chrono_tz::Tz,
    w: &Window,
    site: Option<&mut crate::site::SiteScope>,
) -> Result<String, crate::error::AppError> {
    let q = threadline_store::authenticity::CheckQuery {
        from: w.from,
        to: w.to,
        verdicts: vec!["suspicious".into(), "unknown".into()],
        limit: 20,
    };
    let checks = match site {
        None => app.store.checks(&q).await?,
        Some(site) => crate::authenticity::checks_seen(&*app.store, site, &q).await?,
    };
    let list = if checks.is_empty() {
        format!(
            "<p class=\"muted\" id=\"no-authenticity-alerts\">{}</p>",
            t(lang, Msg::NoAuthenticityAlerts)
        )
    } else {
        let rows: String = checks
            .iter()
            .map(|c| {
                let what = match (&c.product, &c.serial) {
                    (Some(p), Some(s)) => format!("{p} {s}"),
                    _ => c.code.clone(),
                };
                let reasons = c
                    .reasons
                    .iter()
                    .map(|r| i18n::check_word(lang, r))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "<tr class=\"bad\"><td>{when}</td><td>{what}</td><td>{verdict}</td><td>{reasons}</td><td>{region}</td></tr>",
                    when = esc(&i18n::datetime(lang, zone, &c.at)),
                    what = esc(&what),
                    verdict = esc(&i18n::check_word(lang, &c.verdict)),
                    reasons = esc(&reasons),
                    region = esc(c.region.as_deref().unwrap_or("")),
                )
            })
            .collect();
        table(
            "authenticity-table",
            &[
                (t(lang, Msg::When), false),
                (t(lang, Msg::Code), false),
                (t(lang, Msg::Verdict), false),
                (t(lang, Msg::FieldReason), false),
                (t(lang, Msg::Regions), false),
            ],
            &rows,
        )
    };
    Ok(format!(
        "<section id=\"authenticity\"><h2>{h}</h2><p class=\"hint\">{hint}</p>{list}</section>",
        h = t(lang, Msg::AuthenticityAlerts),
        hint = t(lang, Msg::AuthenticityHint),
    ))
}

/// Partners' EPCIS reports recorded although Threadline's state or process disagreed, received
/// in the last 30 days (whatever the page's window: they ask for action now): how many, those
/// past a hold first — a hold is there to stop a shipment —, then the latest of any kind; each
/// with its event time, its unit linked to the passport and what differs in the reader's
/// language. For an account of one site, `site`, those of its site.
async fn partner_reports(
    app: &AppState,
    lang: Lang,
    zone: chrono_tz::Tz,
    mut site: Option<&mut crate::site::SiteScope>,
) -> Result<String, crate::error::AppError> {
    use threadline_domain::projection::PAST_HOLD;
    use threadline_store::DiscrepancyQuery;
    /// What one account of a site counts at most, reading each report.
    const COUNT_CAP: u32 = 10_000;
    let since = app.clock.now() - chrono::Duration::days(30);
    let all = DiscrepancyQuery {
        since: Some(since),
        limit: 10,
        ..DiscrepancyQuery::default()
    };
    let held = DiscrepancyQuery {
        codes: PAST_HOLD.iter().map(|c| (*c).to_owned()).collect(),
        limit: 20,
        ..all.clone()
    };
    let store = &*app.store;
    let shown = |n: Option<i64>| match n {
        Some(n) => i18n::int(lang, n),
        None => format!("{}+", i18n::int(lang, i64::from(COUNT_CAP))),
    };
    // An account of one site reads each report to know whether its site sees it: one read of
    // the month's reports answers the counts and both lists when it is complete.
    let month = match site.as_deref_mut() {
        Some(site) => {
            let q = DiscrepancyQuery {
                limit: COUNT_CAP,
                ..all.clone()
            };
            Some(crate::discrepancies::reports(store, Some(site), &q).await?)
        }
        None => None,
    };
    let (total, past_hold, held_rows, latest) = match month {
        Some(month) if month.next.is_none() => {
            let is_held = |r: &&crate::discrepancies::Report| {
                PAST_HOLD.contains(&r.row.discrepancy.code.as_str())
            };
            let of = |n: usize| Some(i64::try_from(n).unwrap_or(i64::MAX));
            let n_held = month.discrepancies.iter().filter(is_held).count();
            let held_rows: Vec<_> = month
                .discrepancies
                .iter()
                .filter(is_held)
                .take(held.limit as usize)
                .cloned()
                .collect();
            let total = of(month.discrepancies.len());
            let mut latest = month.discrepancies;
            latest.truncate(all.limit as usize);
            (total, of(n_held), held_rows, latest)
        }
        _ => (
            crate::discrepancies::count(store, site.as_deref_mut(), &all, COUNT_CAP).await?,
            crate::discrepancies::count(store, site.as_deref_mut(), &held, COUNT_CAP).await?,
            crate::discrepancies::reports(store, site.as_deref_mut(), &held)
                .await?
                .discrepancies,
            crate::discrepancies::reports(store, site, &all)
                .await?
                .discrepancies,
        ),
    };
    let kpis = format!(
        "<div class=\"kpis\">{}{}</div>",
        kpi(
            "kpi-past-hold",
            t(lang, Msg::PastHoldLast30Days),
            &shown(past_hold)
        ),
        kpi(
            "kpi-discrepancies",
            t(lang, Msg::DiscrepanciesLast30Days),
            &shown(total)
        ),
    );
    // Reports past a hold are marked as alerts wherever they are listed.
    let rows_of = |reports: &[crate::discrepancies::Report]| -> String {
        reports
            .iter()
            .map(|r| {
                let d = &r.row.discrepancy;
                let class = if PAST_HOLD.contains(&d.code.as_str()) {
                    " class=\"bad\""
                } else {
                    ""
                };
                let unit = match &r.unit {
                    Some(k) => {
                        super::passport::unit_link(lang, k.product.as_str(), k.serial.as_str())
                    }
                    None => "—".to_owned(),
                };
                let what = i18n::discrepancy_sentence(lang, &d.code).unwrap_or(&d.code);
                format!(
                    "<tr{class} data-code=\"{code}\"><td>{when}</td><td>{unit}</td><td title=\"{message}\">{what}</td><td><code>{field}</code></td></tr>",
                    code = esc(&d.code),
                    when = esc(&i18n::datetime(lang, zone, &r.row.event_time)),
                    message = esc(&d.message),
                    what = esc(what),
                    field = esc(&d.field),
                )
            })
            .collect()
    };
    let heads = [
        (t(lang, Msg::EventTime), false),
        (t(lang, Msg::ReportedUnit), false),
        (t(lang, Msg::WhatDiffers), false),
        (t(lang, Msg::ReportField), false),
    ];
    let held_list = if held_rows.is_empty() {
        format!(
            "<p class=\"muted\" id=\"no-past-hold\">{}</p>",
            t(lang, Msg::NoPastHold)
        )
    } else {
        format!(
            "<div role=\"alert\">{}</div>",
            table("past-hold-table", &heads, &rows_of(&held_rows))
        )
    };
    let latest_list = if latest.is_empty() {
        format!(
            "<p class=\"muted\" id=\"no-partner-reports\">{}</p>",
            t(lang, Msg::NoPartnerReports)
        )
    } else {
        table("partner-reports-table", &heads, &rows_of(&latest))
    };
    Ok(format!(
        "<section id=\"partner-reports\"><h2>{h}</h2><p class=\"hint\">{hint}</p>{kpis}\
         <h3 id=\"past-hold\">{hh}</h3><p class=\"hint\">{hhint}</p>{held_list}\
         <h3>{lh}</h3>{latest_list}</section>",
        h = t(lang, Msg::PartnerReports),
        hint = t(lang, Msg::PartnerReportsHint),
        hh = t(lang, Msg::PastHoldReports),
        hhint = t(lang, Msg::PastHoldHint),
        lh = t(lang, Msg::RecentPartnerReports),
    ))
}

fn service(lang: Lang, f: &Filter, s: &ServiceStats) -> String {
    const DAY_US: f64 = 86_400_000_000.0;
    let completed: i64 = s.turnaround.iter().map(|r| r.completed).sum();
    let total: i64 = s.turnaround.iter().map(|r| r.total_us).sum();
    let longest = s.turnaround.iter().map(|r| r.max_us).max().unwrap_or(0);
    let days = |us: f64| i18n::decimal(lang, us / DAY_US, 1);
    let average = if completed > 0 {
        days(total as f64 / completed as f64)
    } else {
        "—".to_owned()
    };
    let kpis = format!(
        "<div class=\"kpis\">{}{}{}</div>",
        kpi(
            "kpi-repairs",
            t(lang, Msg::RepairsCompleted),
            &i18n::int(lang, completed)
        ),
        kpi("kpi-turnaround", t(lang, Msg::AverageDays), &average),
        kpi(
            "kpi-longest",
            t(lang, Msg::LongestDays),
            &if completed > 0 {
                days(longest as f64)
            } else {
                "—".to_owned()
            }
        ),
    );
    let turnaround = if s.turnaround.is_empty() {
        no_data(lang)
    } else {
        let by: BTreeMap<&str, f64> = s
            .turnaround
            .iter()
            .map(|r| {
                (
                    r.period.as_str(),
                    r.total_us as f64 / r.completed.max(1) as f64 / DAY_US,
                )
            })
            .collect();
        let periods = f.periods();
        let labels: Vec<String> = periods
            .iter()
            .map(|d| period_label(lang, f.period, *d))
            .collect();
        let values: Vec<Option<f64>> = periods
            .iter()
            .map(|d| by.get(d.to_string().as_str()).copied())
            .collect();
        let sum = |k: fn(&threadline_store::dashboard::Turnaround) -> i64| {
            s.turnaround.iter().map(k).sum::<i64>()
        };
        let (d1, d3, d7) = (
            sum(|r| r.within_day),
            sum(|r| r.within_3_days),
            sum(|r| r.within_week),
        );
        let buckets = [
            (Msg::WithinDay, d1),
            (Msg::Within3Days, d3),
            (Msg::WithinWeek, d7),
        ];
        let bars: Vec<Bar> = buckets
            .iter()
            .map(|(m, n)| Bar {
                label: t(lang, *m).to_owned(),
                value: *n as f64,
                shown: format!(
                    "{} · {}",
                    i18n::int(lang, *n),
                    i18n::pct(lang, *n, completed)
                ),
                href: None,
            })
            .collect();
        format!(
            "<div class=\"cols\"><div>{}</div><div>{}</div></div>",
            chart::columns(
                "chart-turnaround",
                t(lang, Msg::AverageDays),
                &labels,
                &values,
                &|v| i18n::decimal(lang, v, 1),
                chart::PALETTE[4],
            ),
            chart::hbars(
                "chart-turnaround-buckets",
                t(lang, Msg::RepairTurnaround),
                &bars,
                chart::PALETTE[4]
            ),
        )
    };
    let name = |k: &Option<String>| group_name(lang, k);
    format!(
        "<section id=\"service\"><h2>{h}</h2>{kpis}<h3>{rt}</h3><p class=\"hint\">{hint}</p>{turnaround}{codes}</section>",
        h = t(lang, Msg::Service),
        rt = t(lang, Msg::RepairTurnaround),
        hint = t(lang, Msg::TurnaroundHint),
        codes = pair(
            count_bars(
                lang,
                "chart-faults",
                Msg::TopFaults,
                &s.faults,
                &name,
                chart::PALETTE[1]
            ),
            count_bars(
                lang,
                "chart-defect-codes",
                Msg::TopDefects,
                &s.defects,
                &name,
                chart::PALETTE[6]
            ),
        ),
    )
}

/// `GET /dashboard`.
pub async fn page(
    State(app): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang_of_request(&uri, &headers);
    let p = Query::<Params>::try_from_uri(&uri)
        .map(|Query(p)| p)
        .unwrap_or_default();
    let title = t(lang, Msg::Dashboard);
    let zone = super::zone(&app).await;
    let plant_tz = zone.name();
    let f = match Filter::read(&p, app.clock.now(), plant_tz) {
        Ok(f) => f,
        Err((field, value)) => {
            let fallback = Filter::read(&Params::default(), app.clock.now(), plant_tz);
            let form = fallback
                .map(|f| filter_form(lang, &f, plant_tz))
                .unwrap_or_default();
            let body = format!(
                "<section><h1>{title}</h1>{form}<p class=\"bad\" id=\"filter-error\" role=\"alert\">{bad}: <code>{field}</code> = “{value}”</p></section>",
                bad = t(lang, Msg::BadFilter),
                value = esc(&value),
            );
            return (
                StatusCode::BAD_REQUEST,
                page_with(lang, title, Some(&actor), &body, &[], Some(&uri)),
            )
                .into_response();
        }
    };
    let mut w = f.window();
    // A distributor's dashboard is its own part of the sales channel: what it and its
    // sub-distributors hold, sold and sold outside their regions — nothing of the plant's.
    let partner = match crate::partner::Partner::of(&*app.store, &actor).await {
        Ok(p) => p,
        Err(e) => return super::refusal(lang, e),
    };
    let figures = async {
        if let Some(p) = &partner {
            return channel(&app, lang, &w, Some(p)).await;
        }
        // An account of one site: what happened and is at its places.
        let mut site = crate::site::SiteScope::of(&*app.store, &actor).await?;
        w.places = site.as_ref().map(crate::site::SiteScope::places);
        let rows = app.store.qc_stats(f.by, &w).await?;
        // Units have one product each: the totals come from that partition.
        let overall = if f.by == QcBy::Product {
            rows.clone()
        } else {
            app.store.qc_stats(QcBy::Product, &w).await?
        };
        let service_stats = app.store.service_stats(&w, 8).await?;
        let (reports, channel, authenticity) = match site.as_mut() {
            Some(site) => (
                partner_reports(&app, lang, zone, Some(site)).await?,
                site_channel(&app, lang, &w, site).await?,
                authenticity(&app, lang, zone, &w, Some(site)).await?,
            ),
            None => (
                partner_reports(&app, lang, zone, None).await?,
                channel(&app, lang, &w, None).await?,
                authenticity(&app, lang, zone, &w, None).await?,
            ),
        };
        Ok::<_, crate::error::AppError>(format!(
            "{reports}{}{}{channel}{authenticity}{}",
            quality(lang, &f, &rows, &overall),
            units(&app, lang, w.places.as_deref()).await?,
            service(lang, &f, &service_stats),
        ))
    };
    let figures = match figures.await {
        Ok(s) => s,
        Err(e) => return super::refusal(lang, e),
    };
    let tz_text =
        p.tz.clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| plant_tz.to_owned());
    let body = format!(
        "<section><h1>{title}</h1>{form}<p class=\"hint\" id=\"window\">{from} – {to} ({tz})</p></section>{figures}",
        form = filter_form(lang, &f, &tz_text),
        from = i18n::date(lang, f.from),
        to = i18n::date(lang, f.to),
        tz = esc(&tz_text),
    );
    page_with(lang, title, Some(&actor), &body, &[], Some(&uri)).into_response()
}
