//! W3C trace context on records, so that a trace follows a message across services.
//!
//! # What is written and read
//!
//! The producer writes the `traceparent` header ([`TRACEPARENT`]) of its `kafka.produce`
//! span on every record, and the app makes each `kafka.handle` span a child of the
//! `traceparent` it finds on the record it handles. A malformed header is ignored
//! ([`parse_traceparent`] says what is accepted: version `00`, lowercase hex, not all zeros).
//!
//! # When
//!
//! It works with `tracing-opentelemetry` (feature `opentelemetry`, on by default): without an
//! OpenTelemetry layer in the subscriber, no header is written and nothing is parsed.
//!
//! ```
//! use kafka_utils::trace::parse_traceparent;
//!
//! let header = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
//! let (trace, parent, flags) = parse_traceparent(header).unwrap();
//! assert_eq!(trace, 0x4bf92f3577b34da6a3ce929d0e0e4736);
//! assert_eq!((parent, flags), (0x00f067aa0ba902b7, 1));
//! assert_eq!(parse_traceparent(b"00-0-0-01"), None);
//! ```

/// The header W3C Trace Context names.
pub const TRACEPARENT: &str = "traceparent";

/// The `traceparent` of `span`, when it belongs to an OpenTelemetry trace.
#[cfg(feature = "opentelemetry")]
pub(crate) fn traceparent(span: &tracing::Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let otel_span = context.span();
    let span_context = otel_span.span_context();
    if !span_context.is_valid() {
        return None;
    }
    Some(format!(
        "00-{:032x}-{:016x}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    ))
}

/// Without OpenTelemetry there is no trace context to write.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn traceparent(_span: &tracing::Span) -> Option<String> {
    None
}

/// The trace id, parent span id and flags of a `traceparent` value (version 00), if it is
/// well formed and not all zeros.
pub fn parse_traceparent(value: &[u8]) -> Option<(u128, u64, u8)> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let mut parts = value.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if version != "00"
        || parts.next().is_some()
        || !hex(trace, 32)
        || !hex(parent, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    let trace = u128::from_str_radix(trace, 16).ok()?;
    let parent = u64::from_str_radix(parent, 16).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    (trace != 0 && parent != 0).then_some((trace, parent, flags))
}

/// Makes `span` a child of the remote span `traceparent` names (ignored when malformed).
#[cfg(feature = "opentelemetry")]
pub(crate) fn set_parent(span: &tracing::Span, traceparent: &[u8]) {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let Some((trace, parent, flags)) = parse_traceparent(traceparent) else {
        return;
    };
    let remote = SpanContext::new(
        TraceId::from(trace),
        SpanId::from(parent),
        TraceFlags::new(flags),
        true,
        TraceState::default(),
    );
    let context = opentelemetry::Context::new().with_remote_span_context(remote);
    if let Err(e) = span.set_parent(context) {
        tracing::debug!(error = ?e, "could not set a handler span's parent");
    }
}

#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn set_parent(_span: &tracing::Span, _traceparent: &[u8]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_parsed_strictly() {
        let good = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse_traceparent(good),
            Some((0x4bf92f3577b34da6a3ce929d0e0e4736, 0x00f067aa0ba902b7, 1))
        );
        for bad in [
            &b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"[..],
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"garbage",
            b"\xff",
        ] {
            assert_eq!(
                parse_traceparent(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
