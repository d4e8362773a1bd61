//! The console's charts, drawn on the server as SVG by plotters (no
//! script, no font files: SVG text is laid out by the browser, plotters
//! escapes it). Amounts become `f64` here only to place pixels; every
//! figure shown as text comes from the services' decimal strings.
use chrono::NaiveDate;
use plotters::prelude::*;

const WIDTH: u32 = 640;
const HEIGHT: u32 = 300;
const REVENUE: RGBColor = RGBColor(31, 95, 191);
const REFUNDS: RGBColor = RGBColor(179, 38, 30);

/// One line of a chart per day: its legend and its amount per day.
pub struct Series {
    pub label: &'static str,
    pub color: RGBColor,
    pub amounts: Vec<(NaiveDate, f64)>,
}

pub const REVENUE_COLOR: RGBColor = REVENUE;
pub const REFUNDS_COLOR: RGBColor = REFUNDS;

/// An amount from the services' decimal text, for placing pixels only.
pub fn amount(text: &str) -> f64 {
    text.trim().parse::<f64>().unwrap_or(0.0)
}

/// A y axis that fits `max` with some room, never empty.
fn y_top(max: f64) -> f64 {
    if max > 0.0 { max * 1.15 } else { 1.0 }
}

/// An axis label: whole units unless the axis is short.
fn axis_amount(value: f64, top: f64) -> String {
    if top < 10.0 { format!("{value:.2}") } else { format!("{value:.0}") }
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Lines of amounts per day from `from` to `to`, days without one drawn
/// as zero.
pub fn per_day(from: NaiveDate, to: NaiveDate, series: &[Series]) -> String {
    let span: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    let lines: Vec<Vec<(i32, f64)>> = series
        .iter()
        .map(|s| {
            let at = |day: &NaiveDate| s.amounts.iter().find(|(d, _)| d == day).map_or(0.0, |(_, v)| *v);
            span.iter().enumerate().map(|(i, d)| (i as i32, at(d))).collect()
        })
        .collect();
    let top = y_top(lines.iter().flatten().map(|(_, v)| *v).fold(0.0, f64::max));
    let last = (span.len() as i32 - 1).max(1);
    let mut svg = String::new();
    let drawn: Drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(0..last, 0.0..top)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(6)
            .x_label_formatter(&|i| span.get(*i as usize).map(|d| d.format("%m-%d").to_string()).unwrap_or_default())
            .y_label_formatter(&|v| axis_amount(*v, top))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        for (s, line) in series.iter().zip(&lines) {
            let color = s.color;
            chart
                .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))?
                .label(s.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.9)).border_style(BLACK.mix(0.2)).draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, drawn)
}

/// The top vendors by revenue, as bars.
pub fn top_vendors(vendors: &[(String, String)]) -> String {
    let values: Vec<(String, f64)> = vendors
        .iter()
        .map(|(name, revenue)| {
            let short: String = name.chars().take(14).collect();
            (if short.len() < name.len() { format!("{short}…") } else { short }, amount(revenue))
        })
        .collect();
    let top = y_top(values.iter().map(|(_, v)| *v).fold(0.0, f64::max));
    let count = values.len().max(1) as i32;
    let mut svg = String::new();
    let drawn: Drawn = (|| {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d((0..count).into_segmented(), 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(values.len().max(1))
            .x_label_formatter(&|segment| match segment {
                SegmentValue::CenterOf(i) => values.get(*i as usize).map(|(n, _)| n.clone()).unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| axis_amount(*v, top))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, (_, revenue))| {
            let i = i as i32;
            let mut bar = Rectangle::new(
                [(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *revenue)],
                REVENUE.filled(),
            );
            bar.set_margin(0, 0, 12, 12);
            bar
        }))?;
        root.present()?;
        Ok(())
    })();
    finish(svg, drawn)
}

/// The SVG, or (logged) an empty string when plotters refused to draw.
fn finish(svg: String, drawn: Drawn) -> String {
    match drawn {
        Ok(()) => svg,
        Err(error) => {
            tracing::error!(%error, "a console chart could not be drawn");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn the_revenue_chart_is_an_svg_with_its_legend_and_days() {
        let revenue = Series {
            label: "Revenue",
            color: REVENUE_COLOR,
            amounts: vec![(date("2026-12-02"), 120.5), (date("2026-12-03"), 80.0)],
        };
        let refunds = Series { label: "Refunds", color: REFUNDS_COLOR, amounts: vec![(date("2026-12-03"), 24.68)] };
        let svg = per_day(date("2026-11-28"), date("2026-12-04"), &[revenue, refunds]);
        assert!(svg.starts_with("<svg"), "{svg}");
        for text in ["Revenue", "Refunds", "12-02", "11-28"] {
            assert!(svg.contains(text), "{text} in the chart");
        }
    }

    #[test]
    fn vendor_names_are_shortened_and_escaped() {
        let svg = top_vendors(&[("Kettle <&> Co and Sons Limited".into(), "99.00".into()), ("B".into(), "1".into())]);
        assert!(svg.contains("Kettle &lt;&amp;&gt; C"), "{svg}");
        assert!(!svg.contains("<&>"));
    }
}
