//! What stands between the network and the handlers, besides the server loop's own bounds
//! ([`crate::server`]):
//!
//! - **Request timeout** ([`request_timeout`]): from the end of a request's header to its
//!   response. A client still sending its body when it passes gets `408 request_timeout` and the
//!   connection is closed; a request the issuer itself could not answer in time gets
//!   `503 busy` with `Retry-After`.
//! - **Per-client rate limits** ([`rate_limit`]): a token bucket per client address and class —
//!   the token endpoint, the Nonce Endpoint, the credential endpoint, and the staff API
//!   (`/v1/applications…`, `/v1/reports…`, `/v1/admin…`); past it, `429 rate_limited` with
//!   `Retry-After`.
//! - **Failed authentications, per client** ([`AuthFailures`]): a staff request refused with 401
//!   (no token, an unknown or revoked one) and a wallet request refused for its code, transaction
//!   code or access token count against the client's address; past `max_auth_failures` in the
//!   window, the client gets `429 too_many_attempts` on those endpoints until the window ends.
//!   The counts are written to the audit log in aggregate (how many failures, from how many
//!   clients, how many locked out; never an address) every `failure_report_interval_s`.
//! - **Refusals as JSON** ([`json_refusals`]): whatever axum or a layer answers on its own
//!   (405 with `Allow`, a 413 from the body limit, a 404, a plain-text extractor rejection) is
//!   rewritten as the API's JSON error with a stable code, so no refusal of any route is plain
//!   text or empty.
//! - **Metrics and the access log** ([`observe`]): every request counted by route template,
//!   method and status, and timed.
//!
//! A client is its peer address, or, behind a reverse proxy, the address the proxy writes in
//! `http.client_ip_header` (for `x-forwarded-for`, the last one: the proxy's own view).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{is_pending, ApiError};
use crate::config::{Rate, RateLimits};
use crate::metrics::Metrics;
pub use crate::service::ops::FailureReport;

/// The rate-limit classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Token,
    Nonce,
    Credential,
    Staff,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Token => "token",
            Class::Nonce => "nonce",
            Class::Credential => "credential",
            Class::Staff => "staff",
        }
    }

    /// The class of a route template, if it is limited.
    pub fn of(route: &str) -> Option<Class> {
        match route {
            "/token" => Some(Class::Token),
            "/nonce" => Some(Class::Nonce),
            "/credential" => Some(Class::Credential),
            r if r.starts_with("/v1/applications") || r.starts_with("/v1/reports") || r.starts_with("/v1/admin") => {
                Some(Class::Staff)
            }
            _ => None,
        }
    }

    /// Whether the wallet-facing endpoints' OAuth error shape applies.
    fn oauth(self) -> bool {
        self != Class::Staff
    }
}

/// Whether a route template is one of the wallet-facing (OAuth) endpoints.
pub fn oauth_route(route: &str) -> bool {
    matches!(route, "/token" | "/nonce" | "/credential")
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per (class, client).
#[derive(Debug, Default)]
struct Buckets {
    map: Mutex<HashMap<(Class, IpAddr), Bucket>>,
}

/// Most clients tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 100_000;

impl Buckets {
    /// Takes one token for `client`; `Err(seconds to wait)` when there is none.
    fn take(&self, class: Class, client: IpAddr, rate: Rate) -> Result<(), u32> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED {
            // Forget the clients not seen for a while: their buckets have refilled.
            map.retain(|_, b| b.at.elapsed() < Duration::from_secs(300));
        }
        let burst = f64::from(rate.burst.max(1));
        let b = map.entry((class, client)).or_insert(Bucket { tokens: burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate.per_second).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = if rate.per_second > 0.0 { (1.0 - b.tokens) / rate.per_second } else { 60.0 };
            Err(wait.ceil().clamp(1.0, 3600.0) as u32)
        }
    }
}

/// Failed authentications per client in the current window, and totals since the last report.
#[derive(Debug)]
pub struct AuthFailures {
    max: u32,
    window: Duration,
    state: Mutex<FailureState>,
}

#[derive(Debug)]
struct FailureState {
    window_start: Instant,
    per_client: HashMap<IpAddr, u32>,
    /// Since the last report.
    reported: FailureReport,
    clients_since_report: std::collections::HashSet<IpAddr>,
}

impl AuthFailures {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max: max.max(1),
            window: window.max(Duration::from_secs(1)),
            state: Mutex::new(FailureState {
                window_start: Instant::now(),
                per_client: HashMap::new(),
                reported: FailureReport::default(),
                clients_since_report: Default::default(),
            }),
        }
    }

    fn roll(&self, s: &mut FailureState) {
        if s.window_start.elapsed() >= self.window {
            s.window_start = Instant::now();
            s.per_client.clear();
        }
    }

    /// Seconds until `client` may try again, when it is locked out.
    pub fn locked(&self, client: IpAddr) -> Option<u32> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.roll(&mut s);
        let n = s.per_client.get(&client).copied().unwrap_or(0);
        (n >= self.max).then(|| self.window.saturating_sub(s.window_start.elapsed()).as_secs().max(1) as u32)
    }

    /// Counts one failure of `client`.
    pub fn record(&self, client: IpAddr) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.roll(&mut s);
        if s.per_client.len() >= MAX_TRACKED && !s.per_client.contains_key(&client) {
            // Too many clients to track one by one: count, without a lockout for this one.
            s.reported.failures += 1;
            return;
        }
        let n = s.per_client.entry(client).or_insert(0);
        *n += 1;
        let n = *n;
        s.reported.failures += 1;
        s.reported.max_per_client = s.reported.max_per_client.max(n);
        if n == self.max {
            s.reported.locked_out += 1;
        }
        if s.clients_since_report.insert(client) {
            s.reported.clients += 1;
        }
    }

    /// The aggregate since the last call, and a fresh start.
    pub fn take_report(&self) -> FailureReport {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.clients_since_report.clear();
        std::mem::take(&mut s.reported)
    }
}

/// A response marker: this refusal was a failed authentication (a wrong code, an unknown token).
#[derive(Debug, Clone, Copy)]
pub struct AuthFailed;

/// The state of the layers above: limits, counters, metrics.
#[derive(Debug)]
pub struct Edge {
    pub limits: RateLimits,
    buckets: Buckets,
    pub failures: AuthFailures,
    pub request_timeout: Duration,
    pub client_ip_header: Option<HeaderName>,
    pub metrics: Option<Arc<Metrics>>,
}

impl Edge {
    /// For `serve`: the configured limits.
    pub fn new(config: &crate::Config, metrics: Option<Arc<Metrics>>) -> Self {
        Self {
            limits: config.rate_limits.clone(),
            buckets: Buckets::default(),
            failures: AuthFailures::new(
                config.rate_limits.max_auth_failures,
                Duration::from_secs(config.rate_limits.auth_failure_window_s),
            ),
            request_timeout: Duration::from_millis(config.http.request_timeout_ms.max(1)),
            client_ip_header: config.http.client_ip_header.as_deref().and_then(|h| h.parse().ok()),
            metrics,
        }
    }

    /// For in-process tests ([`super::app`]): no rate limits, no metrics.
    pub fn unlimited() -> Self {
        let limits = RateLimits { enabled: false, ..RateLimits::default() };
        Self {
            failures: AuthFailures::new(limits.max_auth_failures, Duration::from_secs(limits.auth_failure_window_s)),
            limits,
            buckets: Buckets::default(),
            request_timeout: Duration::from_secs(30),
            client_ip_header: None,
            metrics: None,
        }
    }

    fn rate(&self, class: Class) -> Rate {
        match class {
            Class::Token => self.limits.token,
            Class::Nonce => self.limits.nonce,
            Class::Credential => self.limits.credential,
            Class::Staff => self.limits.staff,
        }
    }

    /// The request's client address.
    fn client(&self, req: &Request) -> IpAddr {
        if let Some(h) = &self.client_ip_header {
            let named = req
                .headers()
                .get_all(h)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = named {
                return ip;
            }
        }
        req.extensions().get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(a)| a.ip())
    }

    /// Writes the failed authentications since the last report to the audit log, every
    /// `interval_s` seconds, until the service is dropped.
    pub async fn run_failure_reports(self: Arc<Self>, service: Arc<crate::service::Service>, interval_s: u64) {
        let interval = Duration::from_secs(interval_s.max(1));
        let weak = Arc::downgrade(&service);
        drop(service);
        loop {
            tokio::time::sleep(interval).await;
            let Some(service) = weak.upgrade() else { return };
            let report = self.failures.take_report();
            if report.failures == 0 {
                continue;
            }
            if let Err(e) = service.record_auth_failures(&report, interval.as_secs()).await {
                tracing::warn!(error = %e, "the failed authentications could not be audited");
            }
        }
    }
}

/// The request's route template (a shared string: cloning it allocates nothing).
fn route_of(req: &Request) -> Option<MatchedPath> {
    req.extensions().get::<MatchedPath>().cloned()
}

/// Middleware: per-client rate limits, and the lockout after too many failed
/// authentications; counts the failures of the requests it lets through.
pub async fn rate_limit(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    let Some(class) = route_of(&req).as_ref().map(MatchedPath::as_str).and_then(Class::of) else {
        return next.run(req).await;
    };
    let client = edge.client(&req);
    if edge.limits.enabled {
        if let Some(wait) = edge.failures.locked(client) {
            if let Some(m) = &edge.metrics {
                m.rate_limited.with_label_values(&[class.as_str(), "auth_failures"]).inc();
            }
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
            e.retry_after = Some(wait);
            e.oauth = class.oauth();
            return e.into_response();
        }
        if let Err(wait) = edge.buckets.take(class, client, edge.rate(class)) {
            if let Some(m) = &edge.metrics {
                m.rate_limited.with_label_values(&[class.as_str(), "rate"]).inc();
            }
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
            e.retry_after = Some(wait);
            e.oauth = class.oauth();
            return e.into_response();
        }
    }
    let resp = next.run(req).await;
    let failed = match class {
        Class::Staff => resp.status() == StatusCode::UNAUTHORIZED,
        _ => resp.extensions().get::<AuthFailed>().is_some() || resp.status() == StatusCode::UNAUTHORIZED,
    };
    if failed {
        edge.failures.record(client);
        if let Some(m) = &edge.metrics {
            m.auth_failures.with_label_values(&[if class == Class::Staff { "staff" } else { "wallet" }]).inc();
        }
    }
    resp
}

/// A request body that notes when it has been read to the end.
struct Watched {
    inner: axum::body::Body,
    done: Arc<AtomicBool>,
}

impl http_body::Body for Watched {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, std::task::Poll::Ready(None)) || self.inner.is_end_stream() {
            self.done.store(true, Ordering::Release);
        }
        r
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Routes whose work grows with the whole store, not with the request: an admin's backup and
/// audit verification are not cut off by the request timeout.
const LONG: &[&str] = &["/v1/admin/backup", "/v1/admin/audit/verify"];

/// Middleware: the request timeout (see the module docs).
pub async fn request_timeout(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let route = route.as_ref().map(MatchedPath::as_str);
    if route.is_some_and(|r| LONG.contains(&r)) {
        return next.run(req).await;
    }
    let oauth = route.is_some_and(oauth_route);
    let done = Arc::new(AtomicBool::new(false));
    let req = if http_body::Body::is_end_stream(req.body()) {
        // No body (a GET): nothing to watch.
        done.store(true, Ordering::Release);
        req
    } else {
        let done = done.clone();
        req.map(|inner| axum::body::Body::new(Watched { inner, done }))
    };
    match tokio::time::timeout(edge.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            let mut e = if done.load(Ordering::Acquire) {
                tracing::warn!("a request took longer than the request timeout");
                ApiError::busy()
            } else {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout")
            };
            e.oauth = oauth;
            if let Some(m) = &edge.metrics {
                m.request_timeouts.inc();
            }
            let mut resp = e.into_response();
            if !done.load(Ordering::Acquire) {
                // The rest of the body would be read as the next request: close instead.
                resp.headers_mut()
                    .insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
            }
            resp
        }
    }
}

/// Middleware: a request that announces a body larger than its route takes (`Content-Length`)
/// is refused with `413 payload_too_large` at once, before any of it is read (a chunked body is
/// cut off by the body limit as it is read).
pub async fn length_guard(req: Request, next: Next) -> Response {
    let route = route_of(&req);
    let route = route.as_ref().map(MatchedPath::as_str);
    let limit = match route {
        Some("/v1/applications/{id}/biometrics") => super::applications::MAX_UPLOAD,
        _ => super::MAX_BODY,
    };
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        let mut e = ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        e.oauth = route.is_some_and(oauth_route);
        let mut resp = e.into_response();
        // The body will not be read: the connection cannot carry another request.
        resp.headers_mut().insert(axum::http::header::CONNECTION, axum::http::HeaderValue::from_static("close"));
        return resp;
    }
    next.run(req).await
}

/// Middleware: a refusal written by axum itself (or any layer) becomes the API's JSON error.
pub async fn json_refusals(req: Request, next: Next) -> Response {
    let oauth = route_of(&req).is_some_and(|r| oauth_route(r.as_str()));
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || is_pending(&resp) {
        return resp;
    }
    let json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if json {
        // Ours already: the API's JSON, or a console page made for people (a refused form
        // shown again with its problems, the console's own error page).
        return resp;
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "busy",
        StatusCode::INSUFFICIENT_STORAGE => "insufficient_storage",
        s if s.is_server_error() => "internal_error",
        _ => "invalid_request",
    };
    let (parts, _) = resp.into_parts();
    let mut e = ApiError::new(status, code);
    e.oauth = oauth;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        e.retry_after = Some(1);
    }
    let mut out = e.into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

/// Middleware: metrics (requests by route template, method and status; latency) and one log
/// line per request at `debug` (`RUST_LOG=issuer=debug`): method, route template (ids and query
/// strings left out, so no personal data or secret reaches the log), status, latency.
pub async fn observe(State(edge): State<Arc<Edge>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let matched = route_of(&req);
    let route = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let t0 = Instant::now();
    let resp = next.run(req).await;
    let took = t0.elapsed();
    let status = resp.status();
    if let Some(m) = &edge.metrics {
        if let Some(i) = resp.extensions().get::<super::oid4vci::Issued>() {
            m.issuances.with_label_values(&[if i.redelivered { "redelivered" } else { "new" }]).inc();
        }
        m.requests.with_label_values(&[route, method.as_str(), status.as_str()]).inc();
        m.latency.with_label_values(&[route, method.as_str()]).observe(took.as_secs_f64());
    }
    tracing::debug!(%method, route, status = status.as_u16(), micros = took.as_micros() as u64, "request");
    resp
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let b = Buckets::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let rate = Rate { per_second: 1.0, burst: 3 };
        for _ in 0..3 {
            assert!(b.take(Class::Staff, ip, rate).is_ok());
        }
        assert_eq!(b.take(Class::Staff, ip, rate), Err(1));
        // Another client, another class: their own buckets.
        assert!(b.take(Class::Staff, "10.0.0.2".parse().unwrap(), rate).is_ok());
        assert!(b.take(Class::Token, ip, rate).is_ok());
    }

    #[test]
    fn failures_lock_a_client_out_and_are_reported_in_aggregate() {
        let f = AuthFailures::new(3, Duration::from_secs(60));
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..3 {
            assert!(f.locked(a).is_none());
            f.record(a);
        }
        f.record(b);
        assert!(f.locked(a).is_some_and(|s| s <= 60));
        assert!(f.locked(b).is_none());
        assert_eq!(f.take_report(), FailureReport { failures: 4, clients: 2, max_per_client: 3, locked_out: 1 });
        assert_eq!(f.take_report(), FailureReport::default());
    }
}
