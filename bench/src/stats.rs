//! Figures of a scenario: each client records into its own `Recorder`
//! (latencies in microseconds, non-2xx statuses, transport errors, contract
//! mismatches, a few error samples); the recorders are merged into a `Report`
//! with nearest-rank percentiles, printed for people and as one `BENCH_JSON` line.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

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
    /// 5xx + transport errors + mismatches; non-zero fails the run.
    pub errors: u64,
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
            samples,
        }
    }

    /// The human-readable lines, then the `BENCH_JSON` line.
    pub fn print(&self) {
        println!("== {} ({} clients, {} s)", self.scenario, self.clients, self.duration_s);
        println!("   requests {} in {:.2} s = {:.1} req/s", self.requests, self.elapsed_s, self.rps);
        println!(
            "   latency ms: p50 {:.3}  p95 {:.3}  p99 {:.3}  max {:.3}",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms
        );
        let statuses = if self.non_2xx.is_empty() {
            "none".to_owned()
        } else {
            self.non_2xx.iter().map(|(status, n)| format!("{status} x{n}")).collect::<Vec<_>>().join(", ")
        };
        println!("   non-2xx: {statuses}");
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
}
