//! Prometheus metrics: requests by route and status, latency, scores, and the narrative model.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, linear_buckets, Histogram};
use prometheus_client::registry::Registry;
use risk_narrative::Fallback;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram>,
    pub in_flight: Gauge,
    pub scores: Histogram,
    pub llm_calls: Family<OutcomeLabels, Counter>,
    pub llm_latency: Histogram,
    pub llm_cache: Family<ResultLabels, Counter>,
    pub narrative_fallbacks: Family<ReasonLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("iam_risk_score");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests by route, method and status", requests.clone());
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to ~6.5 s.
            Histogram::new(exponential_buckets(0.00005, 2.0, 18))
        });
        registry.register("http_request_duration_seconds", "HTTP request latency by route", latency.clone());
        let in_flight = Gauge::default();
        registry.register("http_requests_in_flight", "HTTP requests being served", in_flight.clone());
        let scores = Histogram::new(linear_buckets(1.0, 1.0, 10));
        registry.register("policy_score", "Scores returned (1-10)", scores.clone());
        let llm_calls = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "narrative_llm_calls",
            "Narrative model calls by outcome (ok, timeout, error, invalid)",
            llm_calls.clone(),
        );
        let llm_latency = Histogram::new(exponential_buckets(0.01, 2.0, 12));
        registry.register("narrative_llm_call_duration_seconds", "Narrative model call latency", llm_latency.clone());
        let llm_cache = Family::<ResultLabels, Counter>::default();
        registry.register("narrative_cache_lookups", "Narrative cache lookups (hit, miss)", llm_cache.clone());
        let narrative_fallbacks = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "narrative_fallbacks",
            "Template narratives served instead of a model answer, by reason",
            narrative_fallbacks.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            in_flight,
            scores,
            llm_calls,
            llm_latency,
            llm_cache,
            narrative_fallbacks,
        }
    }

    pub fn observe_request(&self, route: &'static str, method: &'static str, status: u16, elapsed: Duration) {
        self.requests.get_or_create(&RequestLabels { route, method, status }).inc();
        self.latency.get_or_create(&RouteLabels { route }).observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        // NOTE: writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl risk_narrative::Observer for Metrics {
    fn llm_call(&self, outcome: &'static str, elapsed: Duration) {
        self.llm_calls.get_or_create(&OutcomeLabels { outcome }).inc();
        self.llm_latency.observe(elapsed.as_secs_f64());
    }

    fn cache(&self, hit: bool) {
        self.llm_cache.get_or_create(&ResultLabels { result: if hit { "hit" } else { "miss" } }).inc();
    }

    fn fallback(&self, why: Fallback) {
        self.narrative_fallbacks.get_or_create(&ReasonLabels { reason: why.as_str() }).inc();
    }
}
