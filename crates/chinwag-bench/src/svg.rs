//! A small log-log line plot written straight to SVG text.

use std::fmt::Write;

/// One line on the plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// `(x, y)` points; non-positive values are skipped (log axes).
    pub points: Vec<(f64, f64)>,
    /// Stroke colour (default: by position).
    pub color: Option<String>,
    /// SVG `stroke-dasharray` (default: solid).
    pub dash: Option<String>,
}

/// A plot: title, axis labels, series.
#[derive(Debug, Clone)]
pub struct Plot {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
    /// A horizontal reference line (e.g. the 100 ms budget), if any.
    pub y_marker: Option<(f64, String)>,
}

const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const W: f64 = 980.0;
const H: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 340.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Powers of ten covering `[lo, hi]`, as exponents.
fn decades(lo: f64, hi: f64) -> (i32, i32) {
    let a = lo.log10().floor() as i32;
    let mut b = hi.log10().ceil() as i32;
    if b <= a {
        b = a + 1;
    }
    (a, b)
}

fn tick_label(exp: i32) -> String {
    let v = 10f64.powi(exp);
    if v >= 1e6 {
        format!("{}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{}k", v / 1e3)
    } else {
        format!("{v}")
    }
}

impl Plot {
    /// Renders the SVG document.
    pub fn render(&self) -> String {
        let pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| *x > 0.0 && *y > 0.0);
        let (mut xmin, mut xmax, mut ymin, mut ymax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            xmin = xmin.min(x);
            xmax = xmax.max(x);
            ymin = ymin.min(y);
            ymax = ymax.max(y);
        }
        if let Some((y, _)) = self.y_marker {
            ymin = ymin.min(y);
            ymax = ymax.max(y);
        }
        if xmin > xmax {
            (xmin, xmax, ymin, ymax) = (1.0, 10.0, 1.0, 10.0);
        }
        let (xa, xb) = decades(xmin, xmax);
        let (ya, yb) = decades(ymin, ymax);
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x.log10() - f64::from(xa)) / f64::from(xb - xa) * pw;
        let sy = |y: f64| TOP + ph - (y.log10() - f64::from(ya)) / f64::from(yb - ya) * ph;

        let mut o = String::new();
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
        let _ = writeln!(
            o,
            r#"<text x="{}" y="25" font-size="15" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            escape(&self.title)
        );
        // grid and ticks
        for e in xa..=xb {
            let x = sx(10f64.powi(e));
            let _ = writeln!(
                o,
                r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 18.0,
                tick_label(e)
            );
        }
        for e in ya..=yb {
            let y = sy(10f64.powi(e));
            let _ = writeln!(
                o,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                tick_label(e)
            );
        }
        let _ = writeln!(
            o,
            r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            H - 15.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            o,
            r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        if let Some((y, label)) = &self.y_marker {
            let yy = sy(*y);
            let _ = writeln!(
                o,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#888" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#666">{}</text>"##,
                LEFT + pw,
                LEFT + 4.0,
                yy - 4.0,
                escape(label)
            );
        }
        for (i, s) in self.series.iter().enumerate() {
            let color = s.color.as_deref().unwrap_or(COLORS[i % COLORS.len()]);
            let dash = s
                .dash
                .as_deref()
                .map(|d| format!(r#" stroke-dasharray="{d}""#))
                .unwrap_or_default();
            let p: Vec<String> = s
                .points
                .iter()
                .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                .collect();
            if !p.is_empty() {
                let _ = writeln!(
                    o,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                    p.join(" ")
                );
                for pt in &p {
                    let (x, y) = pt.split_once(',').unwrap_or(("0", "0"));
                    let _ = writeln!(o, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
                }
            }
            let ly = TOP + 10.0 + i as f64 * 20.0;
            let lx = W - RIGHT + 15.0;
            let _ = writeln!(
                o,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="3"{dash}/><text x="{}" y="{}">{}</text>"#,
                lx + 20.0,
                lx + 26.0,
                ly + 4.0,
                escape(&s.name)
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series_and_legend() {
        let plot = Plot {
            title: "p99 <latency>".into(),
            x_label: "deliveries/s".into(),
            y_label: "ms".into(),
            series: vec![
                Series {
                    name: "chinwag & co".into(),
                    points: vec![(1e3, 1.0), (1e4, 2.0), (1e5, 50.0)],
                    color: None,
                    dash: Some("6 3".into()),
                },
                Series {
                    name: "empty".into(),
                    points: vec![(0.0, 1.0)],
                    color: Some("#000".into()),
                    dash: None,
                },
            ],
            y_marker: Some((100.0, "100 ms".into())),
        };
        let svg = plot.render();
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("p99 &lt;latency&gt;"));
        assert!(svg.contains("chinwag &amp; co"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains(r#"stroke-dasharray="6 3""#));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(">1k<") && svg.contains(">100k<"));
    }

    #[test]
    fn renders_empty_plot() {
        let plot = Plot {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: vec![],
            y_marker: None,
        };
        assert!(plot.render().contains("</svg>"));
    }
}
