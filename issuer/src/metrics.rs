//! Metrics in the Prometheus text format, served at `/metrics` on an address of their own
//! (`metrics.listen`, default `127.0.0.1:9464`), so the public listener exposes nothing about the
//! node and the metrics port can stay on the operators' network. docs/operations.md explains
//! each series and the alerts to set on it.
//!
//! Counters and histograms are updated where things happen (the HTTP layers, the server loop,
//! the store's commits); gauges that describe the state (writes in flight, overdue
//! applications, days left on the signing key, age of the published lists, readiness) are
//! computed when Prometheus scrapes. A registry per process (not a global one), so several
//! services in one test process do not share counters.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder as _, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::service::Service;
use crate::store::WriteGate;

/// Every series the issuer exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub request_timeouts: IntCounter,
    pub connections_open: IntGauge,
    pub connections_refused: IntCounter,
    pub connections_timed_out: IntCounterVec,
    pub rate_limited: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub issuances: IntCounterVec,
    pub commit_seconds: Histogram,
    pub writes_in_flight: IntGauge,
    pub overdue: IntGaugeVec,
    pub key_days_left: Gauge,
    pub list_age: GaugeVec,
    pub ready: IntGauge,
    pub audit_head: IntGauge,
}

// Registering a metric fails only for a name registered twice or an invalid name: both are
// fixed strings here, each used once (`Metrics::new` is covered by tests).
#[allow(clippy::expect_used)]
fn must<T>(r: prometheus::Result<T>) -> T {
    r.expect("metric definitions are fixed and unique")
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        macro_rules! reg {
            ($m:expr) => {{
                let m = must($m);
                must(registry.register(Box::new(m.clone())));
                m
            }};
        }
        let fast = vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let m = Self {
            requests: reg!(IntCounterVec::new(
                Opts::new("issuer_http_requests_total", "HTTP requests answered, by route template, method and status"),
                &["route", "method", "status"]
            )),
            latency: reg!(HistogramVec::new(
                HistogramOpts::new("issuer_http_request_duration_seconds", "Time to answer an HTTP request")
                    .buckets(fast.clone()),
                &["route", "method"]
            )),
            request_timeouts: reg!(IntCounter::new(
                "issuer_http_request_timeouts_total",
                "Requests cut off by the request timeout (408 or 503)"
            )),
            connections_open: reg!(IntGauge::new("issuer_http_connections_open", "HTTP connections open")),
            connections_refused: reg!(IntCounter::new(
                "issuer_http_connections_refused_total",
                "Connections refused past the connection cap (503 too_many_connections)"
            )),
            connections_timed_out: reg!(IntCounterVec::new(
                Opts::new(
                    "issuer_http_connections_timed_out_total",
                    "Connections closed for being idle too long or sending a header too slowly"
                ),
                &["phase"]
            )),
            rate_limited: reg!(IntCounterVec::new(
                Opts::new("issuer_rate_limited_total", "Requests refused with 429, by class and cause"),
                &["class", "cause"]
            )),
            auth_failures: reg!(IntCounterVec::new(
                Opts::new(
                    "issuer_auth_failures_total",
                    "Failed authentications: staff tokens refused, wallet codes or access tokens refused"
                ),
                &["kind"]
            )),
            issuances: reg!(IntCounterVec::new(
                Opts::new("issuer_credentials_issued_total", "Credential batches delivered: new ones, and retries"),
                &["kind"]
            )),
            commit_seconds: reg!(Histogram::with_opts(
                HistogramOpts::new(
                    "issuer_store_commit_seconds",
                    "Time of a store commit: a group commit with its fdatasync (embedded), or COMMIT (PostgreSQL)"
                )
                .buckets(fast)
            )),
            writes_in_flight: reg!(IntGauge::new(
                "issuer_store_writes_in_flight",
                "Writes holding a place in the write gate"
            )),
            overdue: reg!(IntGaugeVec::new(
                Opts::new("issuer_applications_overdue", "Open applications past their due date, per reception point"),
                &["reception_point"]
            )),
            key_days_left: reg!(Gauge::new(
                "issuer_signing_key_days_left",
                "Days until this node's active signing key may no longer sign (negative: past)"
            )),
            list_age: reg!(GaugeVec::new(
                Opts::new("issuer_published_list_age_seconds", "Age of the trust list and status list tokens served"),
                &["list"]
            )),
            ready: reg!(IntGauge::new("issuer_ready", "1 when /readyz answers 200")),
            audit_head: reg!(IntGauge::new("issuer_audit_head_seq", "Sequence number of the newest audit entry")),
            registry,
        };
        // Every label a counter can take, at zero from the start: a dashboard (and an alert on a
        // rate) sees the series before the first event.
        for kind in ["staff", "wallet"] {
            m.auth_failures.with_label_values(&[kind]);
        }
        for kind in ["new", "redelivered"] {
            m.issuances.with_label_values(&[kind]);
        }
        for phase in ["header", "idle"] {
            m.connections_timed_out.with_label_values(&[phase]);
        }
        for class in ["token", "nonce", "credential", "staff"] {
            for cause in ["rate", "auth_failures"] {
                m.rate_limited.with_label_values(&[class, cause]);
            }
        }
        m
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// What `/metrics` reads from.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub metrics: Arc<Metrics>,
    pub service: Arc<Service>,
    pub gate: WriteGate,
}

/// Overdue counts per reception point, and when they were counted.
type OverdueCache = tokio::sync::Mutex<Option<(Instant, Vec<(String, i64)>)>>;

/// Overdue counts are a scan of every application's summary: kept for this long.
const OVERDUE_CACHE: Duration = Duration::from_secs(30);

impl Scrape {
    /// The router of the metrics listener.
    pub fn router(self) -> Router {
        Router::new().route("/metrics", get(metrics)).with_state(Arc::new((self, tokio::sync::Mutex::new(None))))
    }

    /// Updates the gauges and renders every series.
    pub async fn render(&self, cache: &OverdueCache) -> String {
        let m = &self.metrics;
        m.writes_in_flight.set(self.gate.in_flight() as i64);
        let now = self.service.now();
        if let Some(days) = self.service.signing_key_days_left(now) {
            m.key_days_left.set(days);
        }
        for (list, age) in self.service.published_ages(now) {
            m.list_age.with_label_values(&[list.as_str()]).set(age as f64);
        }
        let ready = self.service.readiness(&self.service_health()).await;
        m.ready.set(i64::from(ready.ready));
        if let Ok(Some(head)) = self.service.store().audit_head().await {
            m.audit_head.set(head.seq as i64);
        }
        let mut cached = cache.lock().await;
        let fresh = cached.as_ref().is_some_and(|(at, _)| at.elapsed() < OVERDUE_CACHE);
        if !fresh {
            match self.service.overdue_by_point().await {
                Ok(rows) => *cached = Some((Instant::now(), rows)),
                Err(e) => tracing::warn!(error = %e, "overdue applications could not be counted"),
            }
        }
        if let Some((_, rows)) = cached.as_ref() {
            m.overdue.reset();
            for (point, n) in rows {
                m.overdue.with_label_values(&[point.as_str()]).set(*n);
            }
        }
        drop(cached);
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn service_health(&self) -> crate::config::Health {
        self.service.health_settings().clone()
    }
}

type ScrapeState = Arc<(Scrape, OverdueCache)>;

async fn metrics(State(s): State<ScrapeState>) -> impl IntoResponse {
    let body = s.0.render(&s.1).await;
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body)
}
