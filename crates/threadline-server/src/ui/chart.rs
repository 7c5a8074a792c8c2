//! Charts as SVG written on the server: horizontal bars, columns and lines over periods. No
//! script, no library; every label is escaped text, every chart has a `<title>` for screen
//! readers and scales to its container's width.

use std::fmt::Write;

use super::esc;

/// Series colours, distinguishable for the common colour-vision deficiencies.
pub const PALETTE: [&str; 8] = [
    "#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0e8a9e", "#bc4c00", "#57606a",
];

/// One bar: its label, its value, and the text shown at its end.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub shown: String,
    /// A link for the label, if any.
    pub href: Option<String>,
}

/// Horizontal bars, in the order given, in one colour: the labels and values are HTML text
/// (readable at any width), each bar an SVG stretched to its share of the longest.
pub fn hbars(id: &str, title: &str, bars: &[Bar], color: &str) -> String {
    let max = bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
    let mut s = format!(
        "<div id=\"{id}\" class=\"hbars\" role=\"img\" aria-label=\"{title}\">",
        title = esc(title),
    );
    for b in bars {
        let pct = if max > 0.0 {
            (b.value / max * 100.0).max(if b.value > 0.0 { 0.5 } else { 0.0 })
        } else {
            0.0
        };
        let label = esc(&b.label);
        let label = match &b.href {
            Some(h) => format!("<a href=\"{}\">{label}</a>", esc(h)),
            None => label,
        };
        let _ = write!(
            s,
            "<div class=\"hbar\"><span class=\"lbl\" title=\"{full}\">{label}</span>\
             <svg viewBox=\"0 0 100 10\" preserveAspectRatio=\"none\" aria-hidden=\"true\"><rect width=\"{pct:.1}\" height=\"10\" fill=\"{color}\"/></svg>\
             <span class=\"val\">{shown}</span></div>",
            full = esc(&b.label),
            shown = esc(&b.shown),
        );
    }
    s.push_str("</div>");
    s
}

/// A series over the periods of the x axis; `None` where it has no value.
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// Geometry shared by the period charts.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

impl Frame {
    const fn new() -> Frame {
        Frame {
            width: 480.0,
            height: 230.0,
            left: 48.0,
            right: 12.0,
            top: 12.0,
            bottom: 40.0,
        }
    }

    fn plot_w(&self) -> f64 {
        self.width - self.left - self.right
    }

    fn plot_h(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    fn y(&self, v: f64, max: f64) -> f64 {
        self.top + self.plot_h() * (1.0 - if max > 0.0 { v / max } else { 0.0 })
    }

    /// The axes: four horizontal grid lines with `fmt` labels and the period labels, at most
    /// eight of them shown, under slot centres `x(i)`.
    fn axes(
        &self,
        id: &str,
        title: &str,
        max: f64,
        fmt: &dyn Fn(f64) -> String,
        periods: &[String],
        x: &dyn Fn(usize) -> f64,
    ) -> String {
        let mut s = format!(
            "<div class=\"chart-wrap\"><svg id=\"{id}\" class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"{id}-t\" preserveAspectRatio=\"xMinYMin meet\"><title id=\"{id}-t\">{title}</title>",
            w = self.width,
            h = self.height,
            title = esc(title),
        );
        for k in 0..=4 {
            let v = max * f64::from(k) / 4.0;
            let y = self.y(v, max);
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{l}\" x2=\"{r}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"tick\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{label}</text>",
                l = self.left,
                r = self.width - self.right,
                tx = self.left - 6.0,
                ty = y + 4.0,
                label = esc(&fmt(v)),
            );
        }
        let step = periods.len().div_ceil(8).max(1);
        for (i, p) in periods.iter().enumerate() {
            if i % step == 0 {
                let _ = write!(
                    s,
                    "<text class=\"tick\" x=\"{x:.1}\" y=\"{y}\" text-anchor=\"middle\">{p}</text>",
                    x = x(i),
                    y = self.height - self.bottom + 18.0,
                    p = esc(p),
                );
            }
        }
        s
    }
}

/// Lines over periods, one per series, with dots where a value exists; `max` is the top of
/// the y axis and `fmt` writes its labels.
pub fn lines(
    id: &str,
    title: &str,
    periods: &[String],
    series: &[Series],
    max: f64,
    fmt: &dyn Fn(f64) -> String,
) -> String {
    let f = Frame::new();
    let n = periods.len().max(1);
    let slot = f.plot_w() / n as f64;
    let x = |i: usize| f.left + slot * (i as f64 + 0.5);
    let mut s = f.axes(id, title, max, fmt, periods, &x);
    for (k, se) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let mut path = String::new();
        let mut pen_down = false;
        let mut dots = String::new();
        for (i, v) in se.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let (px, py) = (x(i), f.y(*v, max));
                    let _ = write!(path, "{}{px:.1},{py:.1} ", if pen_down { "L" } else { "M" });
                    pen_down = true;
                    let _ = write!(
                        dots,
                        "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3.5\" fill=\"{color}\"><title>{name} · {p}: {v}</title></circle>",
                        name = esc(&se.name),
                        p = esc(&periods[i]),
                        v = esc(&fmt(*v)),
                    );
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            s,
            "<g class=\"series\" data-name=\"{name}\"><path d=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"/>{dots}</g>",
            name = esc(&se.name),
            path = path.trim_end(),
        );
    }
    s.push_str("</svg></div>");
    s
}

/// One column per period that has a value, in one colour, the value written above it.
pub fn columns(
    id: &str,
    title: &str,
    periods: &[String],
    values: &[Option<f64>],
    fmt: &dyn Fn(f64) -> String,
    color: &str,
) -> String {
    let f = Frame::new();
    let n = periods.len().max(1);
    let slot = f.plot_w() / n as f64;
    let x = |i: usize| f.left + slot * (i as f64 + 0.5);
    let max = nice_max(values.iter().flatten().copied().fold(0.0_f64, f64::max));
    let mut s = f.axes(id, title, max, fmt, periods, &x);
    let bw = (slot * 0.6).min(48.0);
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        let y = f.y(*v, max);
        let _ = write!(
            s,
            "<rect class=\"col\" x=\"{bx:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" rx=\"2\" fill=\"{color}\"><title>{p}: {v}</title></rect>\
             <text class=\"val\" x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{v}</text>",
            bx = x(i) - bw / 2.0,
            h = f.top + f.plot_h() - y,
            p = esc(&periods[i]),
            v = esc(&fmt(*v)),
            cx = x(i),
            ty = y - 4.0,
        );
    }
    s.push_str("</svg></div>");
    s
}

/// A round top for an axis: 1, 2 or 5 times a power of ten, at least `v`.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

/// The legend of the series, in their colours.
pub fn legend(series: &[Series]) -> String {
    let items: String = series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            format!(
                "<span><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" rx=\"3\" fill=\"{}\"/></svg>{}</span>",
                PALETTE[k % PALETTE.len()],
                esc(&s.name)
            )
        })
        .collect();
    format!("<div class=\"legend\">{items}</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(17.0), 20.0);
        assert_eq!(nice_max(100.0), 100.0);
        assert_eq!(nice_max(101.0), 200.0);
    }

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_longest() {
        let svg = hbars(
            "b",
            "T<",
            &[
                Bar {
                    label: "<A>".into(),
                    value: 4.0,
                    shown: "4".into(),
                    href: None,
                },
                Bar {
                    label: "B".into(),
                    value: 2.0,
                    shown: "2".into(),
                    href: None,
                },
            ],
            "#000",
        );
        assert!(svg.contains("&lt;A&gt;") && svg.contains("T&lt;"));
        assert!(svg.contains("width=\"100.0\"") && svg.contains("width=\"50.0\""));
    }

    #[test]
    fn a_gap_in_a_series_lifts_the_pen() {
        let svg = lines(
            "l",
            "t",
            &["a".into(), "b".into(), "c".into()],
            &[Series {
                name: "s".into(),
                values: vec![Some(1.0), None, Some(1.0)],
            }],
            1.0,
            &|v| v.to_string(),
        );
        let path = svg.split(" d=\"").nth(1).and_then(|p| p.split('"').next());
        assert_eq!(path, Some("M118.0,12.0 M398.0,12.0"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
