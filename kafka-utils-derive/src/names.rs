//! Rules for names: Kafka topic names, principals, groups; "did you mean"; snake case.

/// Why `name` is not a legal Kafka topic name, if it is not.
///
/// Kafka: 1..=249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`; names starting with
/// `__` are the broker's own.
pub(crate) fn topic_name_error(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("topic name is empty; use 1 to 249 characters of `a-z A-Z 0-9 . _ -`".into());
    }
    if name.len() > 249 {
        return Some(format!(
            "topic name is {} characters long; Kafka accepts at most 249",
            name.chars().count()
        ));
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a legal topic name"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Some(format!(
            "topic name `{name}` contains {bad:?}; Kafka accepts only `a-z A-Z 0-9 . _ -`"
        ));
    }
    if name.starts_with("__") {
        return Some(format!(
            "topic name `{name}` starts with `__`, which Kafka keeps for internal topics"
        ));
    }
    None
}

/// Kafka treats `.` and `_` as the same in metric names, so it refuses two topics whose
/// names differ only there: this is the name both map to.
pub(crate) fn topic_collision_key(name: &str) -> String {
    name.replace('.', "_")
}

/// Why `name` is not a usable principal or consumer group name, if it is not.
pub(crate) fn principal_error(what: &str, name: &str) -> Option<String> {
    if name.is_empty() {
        return Some(format!("{what} is empty"));
    }
    if name.len() > 255 {
        return Some(format!(
            "{what} `{name}` is {} characters long; at most 255 are accepted",
            name.len()
        ));
    }
    if let Some(bad) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Some(format!(
            "{what} `{name}` contains {bad:?}; whitespace and control characters are not accepted"
        ));
    }
    None
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&word_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// `ServiceTopics` -> `service_topics`: the module that holds the marker types.
pub(crate) fn snake_case(ident: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = ident.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_numeric());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(*c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka() {
        assert!(topic_name_error("service.request").is_none());
        assert!(topic_name_error("a-b_c.D9").is_none());
        assert!(topic_name_error(&"x".repeat(249)).is_none());
        assert!(topic_name_error(&"x".repeat(250)).is_some());
        assert!(topic_name_error("").is_some());
        assert!(topic_name_error(".").is_some());
        assert!(topic_name_error("..").is_some());
        assert!(topic_name_error("has space").is_some());
        assert!(topic_name_error("ünïcode").is_some());
        assert!(topic_name_error("__consumer_offsets").is_some());
    }

    #[test]
    fn typos_find_their_word() {
        let keys = [
            "retention",
            "retention_ms",
            "cleanup_policy",
            "segment_bytes",
        ];
        assert_eq!(did_you_mean("retension", keys), Some("retention"));
        assert_eq!(did_you_mean("cleanup_polcy", keys), Some("cleanup_policy"));
        assert_eq!(did_you_mean("colour", keys), None);
    }

    #[test]
    fn snake_case_of_enum_names() {
        assert_eq!(snake_case("ServiceTopics"), "service_topics");
        assert_eq!(snake_case("Topics"), "topics");
        assert_eq!(snake_case("HTTPUsers"), "http_users");
        assert_eq!(snake_case("Users2Go"), "users2_go");
    }
}
