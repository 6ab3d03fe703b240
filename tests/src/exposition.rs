//! Reading an OpenMetrics exposition with a real parser, for the tests' assertions.

use std::collections::BTreeMap;

use openmetrics_parser::openmetrics::parse_openmetrics;
use openmetrics_parser::{OpenMetricsType, OpenMetricsValue};

pub use openmetrics_parser::MetricsExposition;

/// One sample: its labels and its value.
pub type Sample = (BTreeMap<String, String>, f64);

/// `body` parsed as OpenMetrics; panics with the body when it is not.
pub fn parse(body: &str) -> MetricsExposition<OpenMetricsType, OpenMetricsValue> {
    parse_openmetrics(body).unwrap_or_else(|e| panic!("not OpenMetrics ({e:?}):\n{body}"))
}

/// The type of `family`, or `None` when the exposition lacks it.
pub fn family_type(body: &str, family: &str) -> Option<OpenMetricsType> {
    parse(body).families.get(family).map(|f| f.family_type)
}

/// The samples of counter or gauge `family` (empty when it is absent), each with its labels.
pub fn samples(body: &str, family: &str) -> Vec<Sample> {
    let exposition = parse(body);
    let Some(family) = exposition.families.get(family) else {
        return Vec::new();
    };
    family
        .iter_samples()
        .filter_map(|sample| {
            let value = match &sample.value {
                OpenMetricsValue::Counter(c) => c.value.as_f64(),
                OpenMetricsValue::Gauge(g) | OpenMetricsValue::Unknown(g) => g.as_f64(),
                _ => return None,
            };
            let labels = sample
                .get_labelset()
                .ok()?
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Some((labels, value))
        })
        .collect()
}

/// The sum of [`samples`] of `family`.
pub fn total(body: &str, family: &str) -> f64 {
    samples(body, family).iter().map(|(_, v)| v).sum()
}
