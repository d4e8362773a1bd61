//! W3C trace context across the asynchronous hop: the producer stores the
//! `traceparent` of the span that enqueued the event, and the consumer's
//! `event` span continues that trace, so one trace shows the request and
//! everything its events caused.
use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";

/// The current span's `traceparent`. Without an OpenTelemetry context
/// (no exporter configured, or no span) a fresh sampled one: every event
/// still carries a trace id that ties its consumer-side logs together.
pub(crate) fn current_traceparent() -> String {
    let context = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT).unwrap_or_else(fresh_traceparent)
}

fn fresh_traceparent() -> String {
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let span_id = uuid::Uuid::new_v4().simple().to_string();
    format!("00-{trace_id}-{}-01", &span_id[..16])
}

/// Makes `span` a child of the remote span `traceparent` names. Does
/// nothing when the value is not a valid traceparent or OpenTelemetry is
/// off.
pub(crate) fn continue_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(traceparent: &str) -> bool {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
        TraceContextPropagator::new().extract(&carrier).span().span_context().is_valid()
    }

    #[test]
    fn without_opentelemetry_a_fresh_valid_traceparent_is_made() {
        let traceparent = current_traceparent();
        assert_eq!(traceparent.len(), 55, "{traceparent}");
        assert!(traceparent.starts_with("00-") && traceparent.ends_with("-01"), "{traceparent}");
        assert!(parses(&traceparent), "{traceparent}");
        assert_ne!(traceparent, current_traceparent());
    }

    #[test]
    fn garbage_is_not_a_parent() {
        assert!(!parses("not-a-traceparent"));
        continue_trace(&tracing::Span::none(), "not-a-traceparent");
    }
}
