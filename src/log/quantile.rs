//! Percentiles in bounded memory: exact (nearest rank) while a distribution holds at most
//! `EXACT_LIMIT` values, then a log-bucketed histogram whose percentiles are within
//! `RELATIVE_ERROR` of the true value (the same idea as DDSketch). The maximum is always exact.

use serde::Serialize;

/// Values kept one by one per distribution; past this a histogram takes over.
pub const EXACT_LIMIT: usize = 10_000;
/// The histogram's bound on |reported − true| / true for any percentile.
pub const RELATIVE_ERROR: f64 = 0.01;
/// Values below this (and zero) share one bucket, reported as 0.
const MIN_VALUE: f64 = 1e-6;

/// The values of one metric (latency, TTFT or tokens/second) in one group.
#[derive(Debug, Clone, Default)]
pub struct Dist {
    exact: Vec<f64>,
    hist: Option<Histogram>,
    count: u64,
    max: f64,
}

/// p50, p95, p99 and max of a distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    /// False when the percentiles come from the histogram (within `RELATIVE_ERROR`).
    pub exact: bool,
}

impl Dist {
    /// Adds a value; negative and non-finite values are not measurements and are ignored.
    pub fn add(&mut self, x: f64) {
        if !(x.is_finite() && x >= 0.0) {
            return;
        }
        self.count += 1;
        if x > self.max {
            self.max = x;
        }
        match &mut self.hist {
            Some(h) => h.add(x),
            None => {
                self.exact.push(x);
                if self.exact.len() > EXACT_LIMIT {
                    self.spill();
                }
            }
        }
    }

    pub fn merge(&mut self, other: Dist) {
        self.count += other.count;
        self.max = self.max.max(other.max);
        match other.hist {
            Some(oh) => {
                if self.hist.is_none() {
                    self.spill();
                }
                self.hist.as_mut().expect("spilled").merge(&oh);
            }
            None => match &mut self.hist {
                Some(h) => other.exact.iter().for_each(|&x| h.add(x)),
                None => {
                    self.exact.extend(other.exact);
                    if self.exact.len() > EXACT_LIMIT {
                        self.spill();
                    }
                }
            },
        }
    }

    fn spill(&mut self) {
        let mut h = self.hist.take().unwrap_or_default();
        for &x in &self.exact {
            h.add(x);
        }
        self.exact = Vec::new();
        self.hist = Some(h);
    }

    pub fn summary(&self) -> Option<Summary> {
        if self.count == 0 {
            return None;
        }
        let (p50, p95, p99, exact) = match &self.hist {
            Some(h) => (h.quantile(0.50), h.quantile(0.95), h.quantile(0.99), false),
            None => {
                let mut v = self.exact.clone();
                v.sort_by(f64::total_cmp);
                let q = |p| v[nearest_rank(p, v.len()) - 1];
                (q(0.50), q(0.95), q(0.99), true)
            }
        };
        // A bucket's midpoint can lie above the largest value in it.
        let clamp = |x: f64| x.min(self.max);
        Some(Summary {
            count: self.count,
            p50: clamp(p50),
            p95: clamp(p95),
            p99: clamp(p99),
            max: self.max,
            exact,
        })
    }
}

/// The 1-based rank of the p-quantile among n sorted values: the smallest rank r with r/n ≥ p.
pub fn nearest_rank(p: f64, n: usize) -> usize {
    ((p * n as f64).ceil() as usize).clamp(1, n)
}

/// Bucket i > 0 holds values in (MIN·γ^(i−1), MIN·γ^i]; bucket 0 holds everything up to MIN.
#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

fn gamma() -> f64 {
    (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR)
}

impl Histogram {
    fn index(x: f64) -> usize {
        if x <= MIN_VALUE {
            return 0;
        }
        ((x / MIN_VALUE).ln() / gamma().ln()).ceil().max(1.0) as usize
    }

    /// The point of bucket i whose relative distance to both ends is at most RELATIVE_ERROR.
    fn value(i: usize) -> f64 {
        if i == 0 {
            return 0.0;
        }
        let g = gamma();
        2.0 * MIN_VALUE * g.powi(i as i32) / (g + 1.0)
    }

    fn add(&mut self, x: f64) {
        let i = Self::index(x);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        if other.counts.len() > self.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
    }

    fn quantile(&self, p: f64) -> f64 {
        let rank = nearest_rank(p, self.total as usize) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i);
            }
        }
        Self::value(self.counts.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(values: impl IntoIterator<Item = f64>) -> Dist {
        let mut d = Dist::default();
        values.into_iter().for_each(|x| d.add(x));
        d
    }

    #[test]
    fn exact_nearest_rank_on_small_inputs() {
        let s = dist([0.5, 0.1, 0.4, 0.2, 0.3]).summary().unwrap();
        assert_eq!((s.p50, s.p95, s.p99, s.max), (0.3, 0.5, 0.5, 0.5));
        assert!(s.exact);
        let s = dist((1..=100).map(f64::from)).summary().unwrap();
        assert_eq!(
            (s.p50, s.p95, s.p99, s.max, s.count),
            (50.0, 95.0, 99.0, 100.0, 100)
        );
        let s = dist([7.0]).summary().unwrap();
        assert_eq!((s.p50, s.p99), (7.0, 7.0));
        let s = dist([1.0, 2.0]).summary().unwrap();
        assert_eq!((s.p50, s.p95), (1.0, 2.0));
        assert!(dist([]).summary().is_none());
        assert!(dist([f64::NAN, -1.0, f64::INFINITY]).summary().is_none());
    }

    #[test]
    fn ranks() {
        assert_eq!(nearest_rank(0.5, 4), 2);
        assert_eq!(nearest_rank(0.5, 5), 3);
        assert_eq!(nearest_rank(0.99, 1000), 990);
        assert_eq!(nearest_rank(0.0, 3), 1);
        assert_eq!(nearest_rank(1.0, 3), 3);
    }

    #[test]
    fn large_inputs_are_within_the_stated_error_and_bounded() {
        // 0.001 … 200 s, far past EXACT_LIMIT, in a scrambled order.
        let n = 200_000u64;
        let values: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % n + 1) as f64 / 1000.0)
            .collect();
        let d = dist(values.iter().copied());
        assert!(d.exact.is_empty());
        assert!(d.hist.as_ref().unwrap().counts.len() < 2000);
        let s = d.summary().unwrap();
        assert!(!s.exact);
        assert_eq!(s.max, 200.0);
        assert_eq!(s.count, n);
        for (got, want) in [(s.p50, 100.0), (s.p95, 190.0), (s.p99, 198.0)] {
            assert!(
                ((got - want) / want).abs() <= RELATIVE_ERROR,
                "{got} vs {want}"
            );
        }
    }

    #[test]
    fn merging_equals_adding() {
        let a: Vec<f64> = (1..=8000).map(|i| i as f64 * 0.01).collect();
        let b: Vec<f64> = (1..=8000).map(|i| i as f64 * 0.02).collect();
        let mut m = dist(a.iter().copied());
        m.merge(dist(b.iter().copied()));
        let whole = dist(a.iter().chain(&b).copied());
        assert_eq!(m.summary(), whole.summary());
        // Small halves stay exact.
        let mut m = dist([3.0, 1.0]);
        m.merge(dist([2.0]));
        assert_eq!(m.summary().unwrap().p50, 2.0);
        assert!(m.summary().unwrap().exact);
    }
}
