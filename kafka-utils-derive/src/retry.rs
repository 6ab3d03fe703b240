//! `retry = ["10s", "1m"]` in `#[topic(...)]`: the delays of a topic's retry topics, their
//! names (`<topic>.retry.<delay as written>`) and their specs.

use proc_macro2::{Span, TokenStream};
use quote::quote;

use crate::ctxt::Ctxt;
use crate::names;

/// At most this many delays: each is a topic, and a record retried this often is better
/// off in the dead letter.
const MOST_DELAYS: usize = 10;
/// The shortest and the longest delay, in milliseconds.
const SHORTEST_MS: u64 = 100;
const LONGEST_MS: u64 = 7 * DAY_MS;
const DAY_MS: u64 = 86_400_000;
/// A retry topic keeps its records this long, or ten times its delay if that is longer.
const RETENTION_MS: u64 = 7 * DAY_MS;
const UNITS: &str = "`ms`, `s`, `m`, `h` or `d`";

/// One delay of `retry = [...]`.
pub(crate) struct Delay {
    /// As written (`"10s"`): the last part of the retry topic's name.
    pub(crate) text: String,
    pub(crate) ms: u64,
    pub(crate) span: Span,
}

/// The retry topic of `topic` after `delay`.
pub(crate) fn topic_name(topic: &str, delay: &Delay) -> String {
    format!("{topic}.retry.{}", delay.text)
}

/// `retry = ["10s", "1m", "10m"]`: a list of delays, each a whole number and a unit, none
/// twice. What is wrong is reported on its own token; the delays that are right are kept.
pub(crate) fn parse(
    cx: &mut Ctxt,
    meta: &syn::meta::ParseNestedMeta<'_>,
) -> syn::Result<Vec<Delay>> {
    let expr: syn::Expr = meta.value()?.parse()?;
    let syn::Expr::Array(list) = &expr else {
        cx.error_spanned_by(
            &expr,
            "`retry` takes a list of delays, e.g. `retry = [\"10s\", \"1m\", \"10m\"]`",
        );
        return Ok(Vec::new());
    };
    if list.elems.is_empty() {
        cx.error_spanned_by(
            &expr,
            "`retry = []` lists no delay: give one or more, e.g. `retry = [\"10s\", \"1m\"]`, \
             or leave `retry` out",
        );
    }
    let mut delays: Vec<Delay> = Vec::new();
    for (index, elem) in list.elems.iter().enumerate() {
        if index == MOST_DELAYS {
            cx.error_spanned_by(
                elem,
                format!("`retry` lists more than {MOST_DELAYS} delays: keep at most {MOST_DELAYS}"),
            );
            break;
        }
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) = elem
        else {
            cx.error_spanned_by(
                elem,
                format!(
                    "a retry delay is a string: a whole number and one of {UNITS}, e.g. `\"10s\"`"
                ),
            );
            continue;
        };
        let text = lit.value();
        let ms = match delay_ms(&text) {
            Ok(ms) => ms,
            Err(why) => {
                cx.error_spanned_by(lit, why);
                continue;
            }
        };
        if let Some(first) = delays.iter().find(|d| d.ms == ms) {
            let same = if first.text == text {
                format!("delay `{text}` is given twice")
            } else {
                format!("delay `{text}` is the same as `{}` before it", first.text)
            };
            cx.error_spanned_by(
                lit,
                format!("{same}: each retry topic needs a delay of its own"),
            );
            continue;
        }
        delays.push(Delay {
            text,
            ms,
            span: lit.span(),
        });
    }
    Ok(delays)
}

/// `"10s"` in milliseconds, or why it is not a delay.
fn delay_ms(text: &str) -> Result<u64, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        _ => 0,
    };
    let number = number
        .parse::<u64>()
        .ok()
        .filter(|_| !number.starts_with('0'));
    let (Some(number), true) = (number, unit_ms > 0) else {
        return Err(format!(
            "`{text}` is not a delay: write a whole number (no leading zero) and one of \
             {UNITS}, e.g. `\"10s\"` or `\"5m\"`"
        ));
    };
    let ms = number.saturating_mul(unit_ms);
    if ms < SHORTEST_MS {
        return Err(format!(
            "delay `{text}` is shorter than `100ms`, the shortest retry delay"
        ));
    }
    if ms > LONGEST_MS {
        return Err(format!(
            "delay `{text}` is longer than `7d`, the longest retry delay"
        ));
    }
    Ok(ms)
}

/// Why the retry topic of `topic` (declared by `variant`) after `delay` cannot be named as
/// the rule says, if it cannot.
pub(crate) fn name_error(topic: &str, variant: &syn::Ident, delay: &Delay) -> Option<String> {
    let name = topic_name(topic, delay);
    names::topic_name_error(&name).map(|why| {
        format!(
            "retry topic `{name}` of `{variant}` (its delay `{}`): {why}",
            delay.text
        )
    })
}

/// What the retry topics of one declared topic share with it.
pub(crate) struct Origin<'a> {
    pub(crate) name: &'a str,
    pub(crate) partitions: &'a TokenStream,
    pub(crate) replication: &'a TokenStream,
    /// `min.insync.replicas`, if declared: its retries are as durable as its records.
    pub(crate) min_insync: Option<&'a str>,
    pub(crate) message_type: &'a str,
    pub(crate) key_type: &'a TokenStream,
    pub(crate) dead_letter: &'a TokenStream,
    pub(crate) message_schema: &'a TokenStream,
    pub(crate) key_schema: &'a TokenStream,
}

/// The `TopicSpec`s of the retry topics of `origin`, one per delay, in order.
pub(crate) fn specs(origin: &Origin<'_>, delays: &[Delay]) -> Vec<TokenStream> {
    let Origin {
        name,
        partitions,
        replication,
        min_insync,
        message_type,
        key_type,
        dead_letter,
        message_schema,
        key_schema,
    } = origin;
    delays
        .iter()
        .enumerate()
        .map(|(index, delay)| {
            let retry_name = topic_name(name, delay);
            let retention = delay.ms.saturating_mul(10).max(RETENTION_MS).to_string();
            // Sorted by key, as every spec's configs are.
            let mut configs = vec![("retention.ms".to_string(), retention)];
            if let Some(min_insync) = min_insync {
                configs.insert(
                    0,
                    ("min.insync.replicas".to_string(), min_insync.to_string()),
                );
            }
            let (keys, values): (Vec<String>, Vec<String>) = configs.into_iter().unzip();
            let doc = format!(
                "The retries of `{name}` after {}: records its handler failed on, handled again \
                 once due (derived from its `retry`).",
                delay.text
            );
            let step = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let delay_ms = delay.ms;
            quote! {
                ::kafka_utils::topology::TopicSpec {
                    name: #retry_name,
                    partitions: #partitions,
                    replication_factor: #replication,
                    configs: &[#((#keys, #values)),*],
                    message_type: #message_type,
                    key_type: #key_type,
                    doc: #doc,
                    dead_letter: #dead_letter,
                    message_schema: #message_schema,
                    key_schema: #key_schema,
                    retry_topics: &[],
                    retry_of: ::core::option::Option::Some(::kafka_utils::topology::RetryOf {
                        origin: #name,
                        step: #step,
                        delay_ms: #delay_ms,
                    }),
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_a_whole_number_and_a_unit_in_range() {
        assert_eq!(delay_ms("10s"), Ok(10_000));
        assert_eq!(delay_ms("1m"), Ok(60_000));
        assert_eq!(delay_ms("500ms"), Ok(500));
        assert_eq!(delay_ms("2h"), Ok(7_200_000));
        assert_eq!(delay_ms("7d"), Ok(7 * DAY_MS));
        for bad in ["", "10", "s", "1.5m", "10 s", "10S", "-1s", "010s", "10sec"] {
            assert!(
                delay_ms(bad).unwrap_err().contains("is not a delay"),
                "{bad}"
            );
        }
        assert!(delay_ms("99ms").unwrap_err().contains("shorter"));
        assert!(delay_ms("8d").unwrap_err().contains("longer"));
        assert!(delay_ms("99999999999999999999d").is_err());
    }
}
