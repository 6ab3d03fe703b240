//! Dead letters from the command line: which topic `dlq TOPIC` means, reading a dead-letter
//! topic from where a replay stands to its end now, and `dlq list` and `dlq show`. `dlq replay`
//! is in [`super::replay`].

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Message as _, OwnedMessage};
use serde_json::{Value, json};

use crate::Error;
use crate::consumer::to_end::read_to_end;
use crate::dead_letter::{DeadLetterInfo, now_ms};
use crate::settings::Settings;
use crate::sys::owned_headers;
use crate::topology::Topology;

/// The longest a read of a dead-letter topic may take.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The reasons a dead letter may have, as `--reason` takes them.
pub(super) const REASONS: &[&str] = &["decode", "schema", "handler", "panic", "permanent"];

/// One record of a dead-letter topic.
pub(super) struct Letter {
    pub(super) partition: i32,
    pub(super) offset: i64,
    /// What its headers say (`None`: it was not written by an app).
    pub(super) info: Option<DeadLetterInfo>,
    pub(super) key: Option<Vec<u8>>,
    pub(super) payload: Option<Vec<u8>>,
    pub(super) headers: Vec<(String, Option<Vec<u8>>)>,
}

impl Letter {
    fn of(message: &OwnedMessage) -> Self {
        let headers = owned_headers(message);
        Letter {
            partition: message.partition(),
            offset: message.offset(),
            info: DeadLetterInfo::from_headers(&headers),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
        }
    }

    /// Whether it was dead-lettered for `reason` (any, when `None`).
    pub(super) fn has_reason(&self, reason: Option<&str>) -> bool {
        reason.is_none_or(|r| self.info.as_ref().is_some_and(|i| i.reason.as_str() == r))
    }

    /// `origin`/partition@offset, as its headers say.
    fn origin(&self) -> String {
        self.info.as_ref().map_or("?".to_string(), |i| {
            format!("`{}`/{}@{}", i.topic, i.partition, i.offset)
        })
    }
}

/// The command line's error about `message`.
pub(super) fn usage(message: String) -> Error {
    Error::Admin {
        what: "the command line".into(),
        message,
    }
}

/// The dead-letter topic `name` means: a declared topic's dead letter, or a declared topic
/// that is some topic's dead letter.
pub(super) fn dead_letter_topic(topology: &Topology, name: &str) -> Result<&'static str, Error> {
    let dead_letters: BTreeSet<&'static str> =
        topology.topics().filter_map(|t| t.dead_letter).collect();
    if let Some(spec) = topology.topic(name) {
        if let Some(dead_letter) = spec.dead_letter {
            return Ok(dead_letter);
        }
        if dead_letters.contains(spec.name) {
            return Ok(spec.name);
        }
    }
    let known = if dead_letters.is_empty() {
        "no topic declares one".to_string()
    } else {
        let names: Vec<String> = dead_letters.iter().map(|d| format!("`{d}`")).collect();
        format!("the dead-letter topics are {}", names.join(", "))
    };
    Err(usage(format!(
        "`{name}` is neither a declared dead-letter topic nor a topic with one; {known}"
    )))
}

/// Checks `--reason`.
pub(super) fn check_reason(reason: Option<&str>) -> Result<(), Error> {
    match reason {
        Some(r) if !REASONS.contains(&r) => Err(usage(format!(
            "`--reason {r}` is not a reason; the reasons are {}",
            REASONS.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// `--since`: a time ago (`90s`, `30m`, `2h`, `7d`) or milliseconds since the epoch, as
/// milliseconds since the epoch.
pub(super) fn since_ms(text: &str) -> Result<i64, Error> {
    let bad = || {
        usage(format!(
            "`--since {text}` is not a time: give one ago (`90s`, `30m`, `2h`, `7d`) or \
             milliseconds since the epoch"
        ))
    };
    if let Ok(ms) = text.parse::<i64>() {
        return if ms >= 0 { Ok(ms) } else { Err(bad()) };
    }
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let ago = number.parse::<i64>().map_err(|_| bad())?;
    Ok(now_ms().saturating_sub(ago.saturating_mul(unit_ms)))
}

/// Reads dead-letter topic `topic` (as declared) with `consumer`, from `from` (per
/// partition; its start where not given) up to each partition's end now, ordered by
/// partition and offset. Blocks: run it off the runtime.
pub(super) fn read(
    consumer: &BaseConsumer,
    settings: &Settings,
    topic: &str,
    from: &HashMap<i32, i64>,
) -> Result<Vec<Letter>, Error> {
    let name = settings.cluster_name(topic).into_owned();
    let metadata = consumer
        .fetch_metadata(Some(&name), READ_TIMEOUT)
        .map_err(|e| Error::kafka(format!("describing topic `{topic}`"), e))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == name)
        .map_or(0, |t| t.partitions().len());
    if partitions == 0 {
        return Err(Error::Admin {
            what: format!("reading dead-letter topic `{topic}`"),
            message: "the cluster has no such topic (run `apply` first)".into(),
        });
    }
    let mut ranges = Vec::new();
    for partition in 0..i32::try_from(partitions).unwrap_or(i32::MAX) {
        let (low, high) = consumer
            .fetch_watermarks(&name, partition, READ_TIMEOUT)
            .map_err(|e| Error::kafka(format!("reading the end of `{topic}`/{partition}"), e))?;
        let start = from.get(&partition).copied().unwrap_or(low).max(low);
        ranges.push((partition, start, high));
    }
    let read = read_to_end(consumer, &name, &ranges, READ_TIMEOUT).map_err(|short| {
        let why = short
            .last_error
            .map_or(String::new(), |e| format!(" (last error: {e})"));
        Error::Admin {
            what: format!("reading dead-letter topic `{topic}`"),
            message: format!(
                "read {} record(s) in {READ_TIMEOUT:?}, not up to its end{why}",
                short.read
            ),
        }
    })?;
    Ok(read.iter().map(Letter::of).collect())
}

/// A consumer of `group` for reading dead letters and committing a replay's progress.
pub(super) fn consumer(settings: &Settings, group: &str) -> Result<BaseConsumer, Error> {
    let mut config = settings.consumer_config(group)?;
    config.set("enable.auto.commit", "false");
    config.set("enable.auto.offset.store", "false");
    config
        .create()
        .map_err(|e| Error::kafka("creating the dead letters' reader", e))
}

/// Reads `topic` whole (off the runtime), with a throwaway reader.
async fn read_whole(settings: &Settings, topic: &'static str) -> Result<Vec<Letter>, Error> {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let consumer = consumer(&settings, "kafka-utils-dlq-reader")?;
        read(&consumer, &settings, topic, &HashMap::new())
    })
    .await
    .map_err(|e| Error::Runtime(format!("reading dead letters: {e}")))?
}

/// `dlq list`: the dead letters of `topic`, with `reason`, dead-lettered at `since` or later.
pub(super) async fn list(
    topology: &Topology,
    settings: &Settings,
    (topic, reason, since): (&str, Option<&str>, Option<&str>),
    json_out: bool,
) -> Result<String, Error> {
    check_reason(reason)?;
    let since = since.map(since_ms).transpose()?;
    let dead_letter = dead_letter_topic(topology, topic)?;
    let letters: Vec<Letter> = read_whole(settings, dead_letter)
        .await?
        .into_iter()
        .filter(|l| l.has_reason(reason))
        .filter(|l| since.is_none_or(|s| l.info.as_ref().is_some_and(|i| i.time >= s)))
        .collect();
    if json_out {
        let rows: Vec<Value> = letters.iter().map(|l| summary(dead_letter, l)).collect();
        return serde_json::to_string_pretty(&rows)
            .map(|text| text + "\n")
            .map_err(|e| Error::Runtime(e.to_string()));
    }
    let mut out = format!("{} dead letter(s) in `{dead_letter}`\n", letters.len());
    if !letters.is_empty() {
        out.push_str("| partition | offset | from | reason | attempts | time (ms) | error |\n");
        out.push_str("| ---: | ---: | --- | --- | ---: | ---: | --- |\n");
    }
    for l in &letters {
        let (reason, attempts, time, error) = l.info.as_ref().map_or(
            ("-".to_string(), String::new(), String::new(), String::new()),
            |i| {
                (
                    i.reason.to_string(),
                    i.attempts.to_string(),
                    i.time.to_string(),
                    one_line(&i.error, 120),
                )
            },
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {reason} | {attempts} | {time} | {error} |",
            l.partition,
            l.offset,
            l.origin()
        );
    }
    Ok(out)
}

/// `dlq show`: the dead letter at `partition`/`offset` of `topic`, whole.
pub(super) async fn show(
    topology: &Topology,
    settings: &Settings,
    (topic, partition, offset): (&str, i32, i64),
    json_out: bool,
) -> Result<String, Error> {
    let dead_letter = dead_letter_topic(topology, topic)?;
    let letters = read_whole(settings, dead_letter).await?;
    let Some(letter) = letters
        .iter()
        .find(|l| l.partition == partition && l.offset == offset)
    else {
        return Err(usage(format!(
            "`{dead_letter}` has no record at partition {partition}, offset {offset} \
             ({} record(s) in it; `dlq list {topic}` lists them)",
            letters.len()
        )));
    };
    let mut view = summary(dead_letter, letter);
    view["key"] = bytes(letter.key.as_deref());
    view["payload"] = bytes(letter.payload.as_deref());
    view["headers"] = letter
        .headers
        .iter()
        .map(|(k, v)| json!([k, bytes(v.as_deref())]))
        .collect();
    if json_out {
        return serde_json::to_string_pretty(&view)
            .map(|text| text + "\n")
            .map_err(|e| Error::Runtime(e.to_string()));
    }
    let mut out = format!(
        "dead letter `{dead_letter}`/{partition}@{offset}, from {}\n",
        letter.origin()
    );
    if let Some(i) = &letter.info {
        let _ = writeln!(
            out,
            "reason: {} after {} attempt(s), group `{}`, at {} ms\nerror: {}",
            i.reason, i.attempts, i.group, i.time, i.error
        );
    }
    let _ = writeln!(out, "key: {}", text_of(letter.key.as_deref()));
    let _ = writeln!(out, "payload: {}", text_of(letter.payload.as_deref()));
    out.push_str("headers:\n");
    for (k, v) in &letter.headers {
        let _ = writeln!(out, "  {k}: {}", text_of(v.as_deref()));
    }
    Ok(out)
}

/// A dead letter's place and what its headers say, as JSON.
fn summary(dead_letter: &str, l: &Letter) -> Value {
    let mut view = json!({"topic": dead_letter, "partition": l.partition, "offset": l.offset});
    if let Some(i) = &l.info {
        view["from"] = json!({"topic": i.topic, "partition": i.partition, "offset": i.offset});
        view["reason"] = json!(i.reason.as_str());
        view["attempts"] = json!(i.attempts);
        view["error"] = json!(i.error);
        view["group"] = json!(i.group);
        view["time"] = json!(i.time);
    }
    view
}

/// Bytes as JSON: text when they are UTF-8, else `{"hex": ...}`; null for none.
fn bytes(value: Option<&[u8]>) -> Value {
    match value {
        None => Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) => json!(text),
            Err(_) => json!({"hex": hex(b)}),
        },
    }
}

/// Bytes as a line of text: as they are when UTF-8, else in hex.
fn text_of(value: Option<&[u8]>) -> String {
    match value {
        None => "(null)".into(),
        Some(b) => std::str::from_utf8(b).map_or_else(|_| format!("0x{}", hex(b)), str::to_string),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `text` on one line, at most `most` characters.
fn one_line(text: &str, most: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c == '\n' || c == '|' { ' ' } else { c })
        .take(most)
        .collect();
    if text.chars().count() > most {
        line + "..."
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_time_ago_or_epoch_milliseconds() {
        assert_eq!(since_ms("1700000000000").unwrap(), 1_700_000_000_000);
        let hour_ago = since_ms("1h").unwrap();
        assert!((now_ms() - hour_ago - 3_600_000).abs() < 5_000);
        for bad in ["", "1y", "-5", "h", "1.5h"] {
            assert!(
                since_ms(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("is not a time"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_reason_is_one_of_the_dead_letter_reasons() {
        assert!(check_reason(Some("handler")).is_ok());
        assert!(check_reason(None).is_ok());
        let error = check_reason(Some("handled")).unwrap_err().to_string();
        assert!(
            error.contains("decode, schema, handler, panic, permanent"),
            "{error}"
        );
    }
}
