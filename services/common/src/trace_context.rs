//! W3C trace context across every hop, in one place: how a span's
//! `traceparent` (and `tracestate`) is written into, and continued from,
//! HTTP headers, gRPC metadata (a `MetadataMap` is a `HeaderMap` through
//! `as_mut()`/`as_ref()`) and the events' `traceparent` field.
//!
//! Who uses it: `grpc_client::ServiceChannel` injects each call attempt's
//! client span into the outgoing metadata; the gRPC server's call span, the gateway's request span
//! and each event consumer's span continue the remote parent; the outbox
//! stores the enqueuing span's `traceparent` and the relay hands consumers
//! its publish span's. Without an OpenTelemetry layer (no
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) spans have no context: nothing is
//! injected and continuing is a no-op — except that an event always
//! carries some `traceparent` (see [`traceparent_or_fresh`]).
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::codegen::http::{HeaderMap, HeaderName, HeaderValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header (and event field) that names the parent span.
pub const TRACEPARENT: &str = "traceparent";

/// Writes `span`'s trace context into `headers`; nothing when the span has
/// no OpenTelemetry context.
pub fn inject(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }
}

/// Makes `span` a child of the remote span `headers` name. Does nothing
/// when they carry no valid `traceparent` or OpenTelemetry is off; call it
/// before the span is first entered.
pub fn continue_from_headers(span: &tracing::Span, headers: &HeaderMap) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// Makes `span` a child of the remote span `traceparent` names (see
/// [`continue_from_headers`]).
pub fn continue_from(span: &tracing::Span, traceparent: &str) {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(traceparent) {
        headers.insert(TRACEPARENT, value);
        continue_from_headers(span, &headers);
    }
}

/// `span`'s `traceparent`, when it has an OpenTelemetry context.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut headers = HeaderMap::new();
    inject(span, &mut headers);
    headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// What an event records as its cause: `span`'s `traceparent`, or without
/// an OpenTelemetry context a fresh sampled one, so every event still
/// carries a trace id that ties its consumers' logs together.
pub(crate) fn traceparent_or_fresh(span: &tracing::Span) -> String {
    traceparent(span).unwrap_or_else(|| {
        let trace_id = uuid::Uuid::new_v4().simple().to_string();
        let span_id = uuid::Uuid::new_v4().simple().to_string();
        format!("00-{trace_id}-{}-01", &span_id[..16])
    })
}

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(key.as_bytes()), HeaderValue::from_str(&value)) {
            self.0.insert(name, value);
        }
    }
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(traceparent: &str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_str(traceparent).expect("header value"));
        TraceContextPropagator::new().extract(&HeaderExtractor(&headers)).span().span_context().is_valid()
    }

    #[test]
    fn without_opentelemetry_nothing_is_injected_and_events_get_a_fresh_traceparent() {
        let span = tracing::Span::current();
        assert_eq!(traceparent(&span), None);
        let fresh = traceparent_or_fresh(&span);
        assert_eq!(fresh.len(), 55, "{fresh}");
        assert!(fresh.starts_with("00-") && fresh.ends_with("-01"), "{fresh}");
        assert!(parses(&fresh), "{fresh}");
        assert_ne!(fresh, traceparent_or_fresh(&span));
    }

    #[test]
    fn garbage_is_not_a_parent() {
        assert!(!parses("not-a-traceparent"));
        continue_from(&tracing::Span::none(), "not-a-traceparent");
        continue_from(&tracing::Span::none(), "line\nbreak");
    }
}
