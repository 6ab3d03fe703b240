//! The topic configs `#[topic(config(...))]` knows, with the type of each value.
//!
//! A key is the Kafka key with `_` for `.` (`retention_ms` is `retention.ms`), plus a few
//! short names (`retention`). Values are checked here and turned into what Kafka takes:
//! durations (`"7d"`, `"12h"`, `"1h30m"`, or milliseconds) and sizes (`"1GiB"`, or bytes)
//! become plain numbers.

use quote::ToTokens;

/// The type of a config value.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// Milliseconds; `infinite` (-1) allowed or not.
    Duration { min: i64, infinite: bool },
    /// Bytes; `unlimited` (-1) allowed or not.
    Size { min: i64, unlimited: bool },
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// `delete`, `compact`, or both (`compact,delete`).
    CleanupPolicy,
    /// `true` or `false`.
    Bool,
    /// A number in 0.0..=1.0.
    Ratio,
}

/// A topic config the macro knows.
pub(crate) struct Known {
    /// The key in `config(...)`.
    pub(crate) key: &'static str,
    /// The Kafka key.
    pub(crate) kafka: &'static str,
    pub(crate) kind: Kind,
}

const fn duration(min: i64) -> Kind {
    Kind::Duration {
        min,
        infinite: false,
    }
}

const fn size(min: i64) -> Kind {
    Kind::Size {
        min,
        unlimited: false,
    }
}

const fn known(key: &'static str, kafka: &'static str, kind: Kind) -> Known {
    Known { key, kafka, kind }
}

/// Every known topic config. `min.insync.replicas` is also checked against the
/// replication factor, in `topics::check`.
pub(crate) const KNOWN: &[Known] = &[
    known(
        "retention",
        "retention.ms",
        Kind::Duration {
            min: 0,
            infinite: true,
        },
    ),
    known(
        "retention_ms",
        "retention.ms",
        Kind::Duration {
            min: 0,
            infinite: true,
        },
    ),
    known(
        "retention_bytes",
        "retention.bytes",
        Kind::Size {
            min: 0,
            unlimited: true,
        },
    ),
    known("cleanup_policy", "cleanup.policy", Kind::CleanupPolicy),
    known(
        "min_insync_replicas",
        "min.insync.replicas",
        Kind::Int {
            min: 1,
            max: i16::MAX as i64,
        },
    ),
    known(
        "compression_type",
        "compression.type",
        Kind::Choice(&["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]),
    ),
    known("segment_ms", "segment.ms", duration(1)),
    known("segment_bytes", "segment.bytes", size(1024 * 1024)),
    known("segment_index_bytes", "segment.index.bytes", size(4)),
    known("segment_jitter_ms", "segment.jitter.ms", duration(0)),
    known("max_message_bytes", "max.message.bytes", size(0)),
    known("delete_retention_ms", "delete.retention.ms", duration(0)),
    known(
        "min_compaction_lag_ms",
        "min.compaction.lag.ms",
        duration(0),
    ),
    known(
        "max_compaction_lag_ms",
        "max.compaction.lag.ms",
        duration(1),
    ),
    known(
        "min_cleanable_dirty_ratio",
        "min.cleanable.dirty.ratio",
        Kind::Ratio,
    ),
    known(
        "message_timestamp_type",
        "message.timestamp.type",
        Kind::Choice(&["CreateTime", "LogAppendTime"]),
    ),
    known(
        "message_timestamp_before_max_ms",
        "message.timestamp.before.max.ms",
        duration(0),
    ),
    known(
        "message_timestamp_after_max_ms",
        "message.timestamp.after.max.ms",
        duration(0),
    ),
    known(
        "unclean_leader_election_enable",
        "unclean.leader.election.enable",
        Kind::Bool,
    ),
    known("file_delete_delay_ms", "file.delete.delay.ms", duration(0)),
    known("flush_ms", "flush.ms", duration(0)),
    known(
        "flush_messages",
        "flush.messages",
        Kind::Int {
            min: 1,
            max: i64::MAX,
        },
    ),
    known("index_interval_bytes", "index.interval.bytes", size(0)),
    known("preallocate", "preallocate", Kind::Bool),
];

/// The known config for `key`, if any.
pub(crate) fn lookup(key: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.key == key)
}

/// A literal value as written: a string, an integer (maybe negative), a bool or a float.
pub(crate) enum Literal {
    Str(String),
    Int(i128),
    Bool(bool),
    Float(f64),
}

/// Reads the literal of `expr`, or says what is accepted.
pub(crate) fn literal(expr: &syn::Expr) -> Result<Literal, syn::Error> {
    let unsupported = || {
        syn::Error::new_spanned(
            expr,
            "expected a literal: a string, a number or `true`/`false`",
        )
    };
    match expr {
        syn::Expr::Lit(lit) => match &lit.lit {
            syn::Lit::Str(s) => Ok(Literal::Str(s.value())),
            syn::Lit::Int(i) => i.base10_parse().map(Literal::Int),
            syn::Lit::Bool(b) => Ok(Literal::Bool(b.value)),
            syn::Lit::Float(f) => f.base10_parse().map(Literal::Float),
            _ => Err(unsupported()),
        },
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr: inner,
            ..
        }) => match literal(inner)? {
            Literal::Int(i) => Ok(Literal::Int(-i)),
            Literal::Float(f) => Ok(Literal::Float(-f)),
            _ => Err(unsupported()),
        },
        syn::Expr::Group(group) => literal(&group.expr),
        _ => Err(unsupported()),
    }
}

/// Checks `value` (written as `tokens`) for config `known` and returns it as Kafka takes it.
pub(crate) fn value(
    known: &Known,
    value: &Literal,
    tokens: &dyn ToTokens,
) -> Result<String, syn::Error> {
    let err = |message: String| Err(syn::Error::new_spanned(tokens, message));
    let key = known.key;
    match (known.kind, value) {
        (Kind::Duration { min, infinite }, _) => {
            let ms = match value {
                Literal::Int(ms) => *ms,
                Literal::Str(s) if infinite && (s == "infinite" || s == "-1") => -1,
                Literal::Str(s) => match parse_duration(s) {
                    Some(ms) => ms,
                    None => {
                        return err(format!(
                            "`{key}` takes a duration like \"7d\", \"12h\", \"30m\", \"45s\", \
                             \"250ms\" or \"1h30m\", or a number of milliseconds{}; got {s:?}",
                            if infinite { ", or \"infinite\"" } else { "" }
                        ));
                    }
                },
                _ => {
                    return err(format!(
                        "`{key}` takes a duration such as \"7d\" or milliseconds"
                    ));
                }
            };
            if infinite && ms == -1 {
                return Ok("-1".into());
            }
            if ms < i128::from(min) || ms > i128::from(i64::MAX) {
                return err(format!(
                    "`{key}` must be at least {min} ms{}; got {ms} ms",
                    if infinite { " (or \"infinite\")" } else { "" }
                ));
            }
            Ok(ms.to_string())
        }
        (Kind::Size { min, unlimited }, _) => {
            let bytes = match value {
                Literal::Int(bytes) => *bytes,
                Literal::Str(s) if unlimited && (s == "unlimited" || s == "-1") => -1,
                Literal::Str(s) => parse_size(s).map_err(|why| {
                    syn::Error::new_spanned(
                        tokens,
                        format!(
                            "`{key}` takes a size like \"512MiB\", \"1GiB\" or \"64KiB\", or a \
                             number of bytes{}; {why}",
                            if unlimited { ", or \"unlimited\"" } else { "" }
                        ),
                    )
                })?,
                _ => return err(format!("`{key}` takes a size such as \"1GiB\" or bytes")),
            };
            if unlimited && bytes == -1 {
                return Ok("-1".into());
            }
            if bytes < i128::from(min) || bytes > i128::from(i64::MAX) {
                return err(format!("`{key}` must be at least {min} bytes; got {bytes}"));
            }
            Ok(bytes.to_string())
        }
        (Kind::Int { min, max }, Literal::Int(i)) => {
            if *i < i128::from(min) || *i > i128::from(max) {
                return err(format!("`{key}` must be in {min}..={max}; got {i}"));
            }
            Ok(i.to_string())
        }
        (Kind::Int { .. }, _) => err(format!("`{key}` takes an integer")),
        (Kind::Choice(choices), Literal::Str(s)) if choices.contains(&s.as_str()) => Ok(s.clone()),
        (Kind::Choice(choices), _) => err(format!(
            "`{key}` takes one of {}",
            choices
                .iter()
                .map(|c| format!("\"{c}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (Kind::CleanupPolicy, Literal::Str(s)) => {
            let mut parts: Vec<&str> = s.split(',').map(str::trim).collect();
            parts.sort_unstable();
            parts.dedup();
            match parts.as_slice() {
                ["delete"] | ["compact"] => Ok(parts[0].to_string()),
                ["compact", "delete"] => Ok("compact,delete".into()),
                _ => err(format!(
                    "`{key}` takes \"delete\", \"compact\" or \"compact,delete\"; got {s:?}"
                )),
            }
        }
        (Kind::CleanupPolicy, _) => err(format!(
            "`{key}` takes \"delete\", \"compact\" or \"compact,delete\""
        )),
        (Kind::Bool, Literal::Bool(b)) => Ok(b.to_string()),
        (Kind::Bool, _) => err(format!("`{key}` takes `true` or `false`")),
        (Kind::Ratio, Literal::Float(f)) if (0.0..=1.0).contains(f) => Ok(f.to_string()),
        (Kind::Ratio, Literal::Int(i)) if (0..=1).contains(i) => Ok(i.to_string()),
        (Kind::Ratio, _) => err(format!("`{key}` takes a number from 0.0 to 1.0")),
    }
}

/// `"7d"`, `"12h"`, `"30m"`, `"45s"`, `"250ms"`, `"1w"`, `"1h30m"` in milliseconds.
pub(crate) fn parse_duration(s: &str) -> Option<i128> {
    let mut total: i128 = 0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 || digits > 18 {
            return None;
        }
        let number: i128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor: i128 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(number.checked_mul(factor)?)?;
    }
    Some(total)
}

/// `"512MiB"`, `"1GiB"`, `"64KiB"`, `"1TiB"`, `"100B"` in bytes, or why not.
pub(crate) fn parse_size(s: &str) -> Result<i128, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 || digits > 18 {
        return Err(format!("got {s:?}"));
    }
    let number: i128 = t[..digits].parse().map_err(|_| format!("got {s:?}"))?;
    let factor: i128 = match t[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        unit @ ("KB" | "kB" | "MB" | "GB" | "TB" | "kb" | "mb" | "gb" | "tb") => {
            let binary = format!("{}iB", unit[..1].to_ascii_uppercase());
            return Err(format!(
                "got {s:?}: `{unit}` is ambiguous, did you mean `{binary}` ({} bytes)?",
                number * (1i128 << (10 * (1 + "KMGT".find(&binary[..1]).unwrap_or(0))))
            ));
        }
        unit => return Err(format!("got {s:?}: unknown unit `{unit}`")),
    };
    Ok(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README says how many Kafka topic configs are known by name: this many.
    #[test]
    fn the_readme_counts_the_known_configs() {
        let mut kafka: Vec<&str> = KNOWN.iter().map(|k| k.kafka).collect();
        kafka.sort_unstable();
        kafka.dedup();
        let readme = include_str!("../../README.md");
        let claim = format!("{} Kafka topic configs are known by", kafka.len());
        assert!(
            readme.replace('\n', " ").contains(&claim),
            "README.md should say `{claim}`"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(604_800_000));
        assert_eq!(parse_duration("12h"), Some(43_200_000));
        assert_eq!(parse_duration("30m"), Some(1_800_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("1w"), Some(604_800_000));
        assert_eq!(parse_duration("7days"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("-5m"), None);
        assert_eq!(
            parse_duration("999999999999999999w"),
            Some(999_999_999_999_999_999 * 604_800_000)
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(
            parse_size("1GB")
                .unwrap_err()
                .contains("did you mean `GiB`")
        );
        assert!(parse_size("1 parsec").is_err());
    }

    #[test]
    fn values_become_what_kafka_takes() {
        let span: syn::Expr = syn::parse_quote!(x);
        let span = &span;
        let retention = lookup("retention").unwrap();
        assert_eq!(
            value(retention, &Literal::Str("7d".into()), span).unwrap(),
            "604800000"
        );
        assert_eq!(
            value(retention, &Literal::Str("infinite".into()), span).unwrap(),
            "-1"
        );
        assert!(value(retention, &Literal::Int(-5), span).is_err());
        let policy = lookup("cleanup_policy").unwrap();
        assert_eq!(
            value(policy, &Literal::Str("delete, compact".into()), span).unwrap(),
            "compact,delete"
        );
        assert!(value(policy, &Literal::Str("purge".into()), span).is_err());
        let segment = lookup("segment_bytes").unwrap();
        assert!(value(segment, &Literal::Int(100), span).is_err());
    }
}
