//! Figures of a scenario: each client records into its own `Recorder`
//! (latencies in microseconds, non-2xx statuses, transport errors, contract
//! mismatches, a few error samples); the recorders are merged into a `Report`
//! with nearest-rank percentiles, printed for people and as one `BENCH_JSON`
//! line. A scenario may add figures of its own (`extra`, with their lines).
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

/// Error messages kept per scenario (the counts are always complete).
const MAX_SAMPLES: usize = 10;

#[derive(Debug, Default)]
pub struct Recorder {
    latencies_us: Vec<u32>,
    non_2xx: BTreeMap<u16, u64>,
    transport_errors: u64,
    mismatches: u64,
    samples: Vec<String>,
}

impl Recorder {
    pub fn with_capacity(requests: usize) -> Self {
        Self { latencies_us: Vec::with_capacity(requests), ..Self::default() }
    }

    /// A complete HTTP answer. 5xx are errors and keep a sample of `describe()`.
    pub fn response(&mut self, status: u16, elapsed: Duration, describe: impl FnOnce() -> String) {
        self.latencies_us.push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        if !(200..300).contains(&status) {
            *self.non_2xx.entry(status).or_default() += 1;
            if status >= 500 {
                self.sample(describe);
            }
        }
    }

    /// No answer (connect, timeout, reset, truncated body): an error, no latency.
    pub fn transport_error(&mut self, describe: impl FnOnce() -> String) {
        self.transport_errors += 1;
        self.sample(describe);
    }

    /// A 2xx answer that breaks the contract: an error.
    pub fn mismatch(&mut self, describe: impl FnOnce() -> String) {
        self.mismatches += 1;
        self.sample(describe);
    }

    fn sample(&mut self, describe: impl FnOnce() -> String) {
        if self.samples.len() < MAX_SAMPLES {
            self.samples.push(describe());
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.latencies_us.extend(other.latencies_us);
        for (status, count) in other.non_2xx {
            *self.non_2xx.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        self.mismatches += other.mismatches;
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }
}

/// The nearest-rank `p`-th percentile of ascending `sorted` (0 when empty).
pub fn percentile(sorted: &[u32], p: u32) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied().unwrap_or(0)
}

/// Counts per status, `404 x3, 503 x1`, or `none`.
pub fn statuses(counts: &BTreeMap<u16, u64>) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts.iter().map(|(status, n)| format!("{status} x{n}")).collect::<Vec<_>>().join(", ")
}

/// The figures of one scenario; serialised as the `BENCH_JSON` line.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// The seeding tag of the run (in every seeded name).
    pub tag: String,
    pub clients: usize,
    pub duration_s: u64,
    pub elapsed_s: f64,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Count per status code of every answer outside 2xx.
    pub non_2xx: BTreeMap<u16, u64>,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub mismatches: u64,
    /// 5xx + transport errors + mismatches (+ failed verdicts of the
    /// scenario, see `checkout-hot`); non-zero fails the run.
    pub errors: u64,
    /// The scenario's own figures, flattened into the `BENCH_JSON` object.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The human-readable lines of `extra`, printed after the common ones.
    #[serde(skip)]
    pub notes: Vec<String>,
    #[serde(skip)]
    pub samples: Vec<String>,
}

impl Report {
    pub fn new(
        scenario: &'static str,
        tag: &str,
        clients: usize,
        duration_s: u64,
        elapsed: Duration,
        merged: Recorder,
    ) -> Self {
        let Recorder { mut latencies_us, non_2xx, transport_errors, mismatches, samples } = merged;
        latencies_us.sort_unstable();
        let requests = latencies_us.len() as u64 + transport_errors;
        let elapsed_s = elapsed.as_secs_f64();
        let ms = |us: u32| f64::from(us) / 1000.0;
        let server_errors = non_2xx.range(500..).map(|(_, n)| n).sum::<u64>();
        Self {
            scenario,
            tag: tag.to_owned(),
            clients,
            duration_s,
            elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
            requests,
            rps: (requests as f64 / elapsed_s.max(1e-9) * 10.0).round() / 10.0,
            p50_ms: ms(percentile(&latencies_us, 50)),
            p95_ms: ms(percentile(&latencies_us, 95)),
            p99_ms: ms(percentile(&latencies_us, 99)),
            max_ms: ms(latencies_us.last().copied().unwrap_or(0)),
            non_2xx,
            server_errors,
            transport_errors,
            mismatches,
            errors: server_errors + transport_errors + mismatches,
            extra: Map::new(),
            notes: Vec::new(),
            samples,
        }
    }

    /// Counts the errors (not the requests or latencies) of `other`, figures
    /// of a side request of the same scenario, as errors of this one.
    pub fn absorb_errors(&mut self, other: Report) {
        self.server_errors += other.server_errors;
        self.transport_errors += other.transport_errors;
        self.mismatches += other.mismatches;
        self.errors += other.errors;
        let room = MAX_SAMPLES.saturating_sub(self.samples.len());
        self.samples.extend(other.samples.into_iter().take(room));
    }

    /// Adds the scenario's own figures (a struct serialising to an object)
    /// to the `BENCH_JSON` line, and the lines that describe them.
    pub fn attach(&mut self, figures: &impl Serialize, notes: Vec<String>) {
        match serde_json::to_value(figures) {
            Ok(Value::Object(fields)) => self.extra.extend(fields),
            Ok(other) => self.notes.push(format!("(figures not an object: {other})")),
            Err(e) => self.notes.push(format!("(could not serialise the scenario's figures: {e})")),
        }
        self.notes.extend(notes);
    }

    /// The human-readable lines, then the `BENCH_JSON` line.
    pub fn print(&self) {
        if self.duration_s == 0 {
            // A fixed burst rather than a timed loop.
            println!("== {} ({} clients, one burst)", self.scenario, self.clients);
        } else {
            println!("== {} ({} clients, {} s)", self.scenario, self.clients, self.duration_s);
        }
        println!("   requests {} in {:.2} s = {:.1} req/s", self.requests, self.elapsed_s, self.rps);
        println!(
            "   latency ms: p50 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        );
        println!("   non-2xx: {}", statuses(&self.non_2xx));
        for note in &self.notes {
            println!("   {note}");
        }
        println!(
            "   transport errors {}, 5xx {}, mismatches {} => errors {}",
            self.transport_errors, self.server_errors, self.mismatches, self.errors
        );
        for sample in &self.samples {
            println!("   error: {sample}");
        }
        match serde_json::to_string(self) {
            Ok(json) => println!("BENCH_JSON {json}"),
            Err(e) => println!("   (could not serialise the figures: {e})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50), 50);
        assert_eq!(percentile(&sorted, 95), 95);
        assert_eq!(percentile(&sorted, 99), 99);
        assert_eq!(percentile(&sorted, 100), 100);
        assert_eq!(percentile(&[7], 99), 7);
        assert_eq!(percentile(&[1, 2, 3], 50), 2);
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[5, 9], 0), 5);
    }

    #[test]
    fn merged_report_counts_everything() {
        let mut a = Recorder::default();
        a.response(200, Duration::from_micros(1000), String::new);
        a.response(404, Duration::from_micros(3000), String::new);
        let mut b = Recorder::default();
        b.response(503, Duration::from_micros(2000), || "boom".to_owned());
        b.transport_error(|| "reset".to_owned());
        b.mismatch(|| "bad page".to_owned());
        a.merge(b);
        let report = Report::new("x", "t", 2, 1, Duration::from_secs(2), a);
        assert_eq!(report.requests, 4);
        assert_eq!(report.rps, 2.0);
        assert_eq!((report.p50_ms, report.max_ms), (2.0, 3.0));
        assert_eq!(report.non_2xx, BTreeMap::from([(404, 1), (503, 1)]));
        assert_eq!((report.server_errors, report.transport_errors, report.mismatches, report.errors), (1, 1, 1, 3));
        assert_eq!(report.samples, vec!["boom", "reset", "bad page"]);
    }

    #[test]
    fn side_errors_and_extra_figures_join_the_report() {
        let mut main = Recorder::default();
        main.response(201, Duration::from_micros(1000), String::new);
        let mut side = Recorder::default();
        side.response(200, Duration::from_micros(500), String::new);
        side.response(502, Duration::from_micros(500), || "bad gateway".to_owned());
        side.transport_error(|| "reset".to_owned());
        let mut report = Report::new("x", "t", 1, 1, Duration::from_secs(1), main);
        report.absorb_errors(Report::new("x", "t", 1, 1, Duration::from_secs(1), side));
        assert_eq!((report.requests, report.server_errors, report.transport_errors, report.errors), (1, 1, 1, 2));
        assert!(report.non_2xx.is_empty(), "the side request's statuses stay out of the main figures");
        report.attach(&serde_json::json!({"orders": 1}), vec!["orders 1".to_owned()]);
        let json = serde_json::to_value(&report).unwrap_or_default();
        assert_eq!((json["orders"].as_u64(), json["errors"].as_u64()), (Some(1), Some(2)));
        assert_eq!(report.notes, vec!["orders 1"]);
    }
}
