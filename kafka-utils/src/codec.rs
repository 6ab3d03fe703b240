//! How values and keys become bytes and back.
//!
//! # Values
//!
//! A producer encodes and a consumer decodes values through a [`Codec`]: [`Json`]
//! (serde_json) is the default, [`Raw`] passes bytes through, and any type that implements
//! `Codec<T>` can replace them (`Producer<U, MyCodec>`). A value that does not decode is a
//! [`CodecError`], which the consumer turns into an `Error::Decode` carrying the record.
//!
//! # Keys
//!
//! Keys go through [`KafkaKey`]: strings as UTF-8, integers as decimal text (what a Python
//! service's `str(key).encode()` gives), bytes as they are, and `()` for topics without a key.
//! The key type is part of the topic's declaration (`#[topic(key = u64)]`), so a producer
//! cannot send a key of another type.
//!
//! # Example
//!
//! ```
//! use kafka_utils::codec::{Codec, Json, KafkaKey};
//!
//! let mut bytes = Vec::new();
//! Json.encode(&vec![1, 2, 3], &mut bytes).unwrap();
//! assert_eq!(bytes, b"[1,2,3]");
//! let back: Vec<i32> = Json.decode(&bytes).unwrap();
//! assert_eq!(back, [1, 2, 3]);
//!
//! let mut key = Vec::new();
//! assert!(42u64.write_key(&mut key));
//! assert_eq!(key, b"42");
//! assert_eq!(u64::read_key(Some(b"42")).unwrap(), 42);
//! ```

use std::fmt;

/// Why a value or key could not be encoded or decoded.
#[derive(Debug)]
pub struct CodecError(Box<dyn std::error::Error + Send + Sync>);

impl CodecError {
    /// Wraps the underlying error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        CodecError(error.into())
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Turns values of `T` into bytes and back.
pub trait Codec<T>: Clone + Send + Sync + 'static {
    /// Appends the encoding of `value` to `out`.
    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Decodes a value.
    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError>;
}

/// JSON, the default codec: written by sonic-rs, read by serde_json.
///
/// Both go through the type's serde implementation and write the same compact JSON; sonic-rs
/// writes it 5× (1 KB) to 10× (10 KB) faster, because it escapes strings with SIMD (see
/// BENCHMARKS.md). Reading stays with serde_json, whose error messages say where a record
/// went wrong (they reach dead letters), and which sonic-rs beats only slightly.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<T> Codec<T> for Json
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    fn encode(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        sonic_rs::to_writer(out, value).map_err(CodecError::new)
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}

/// Bytes as they are: for topics whose message is `Vec<u8>` (an opaque payload, a format
/// the service encodes itself). Use it with [`crate::producer::Producer::with_codec`],
/// [`crate::consumer::ConsumerBuilder::codec`] or [`crate::app::App::with_codec`].
///
/// ```
/// use kafka_utils::codec::{Codec, Raw};
///
/// let mut bytes = Vec::new();
/// Raw.encode(&b"\x00\xffopaque".to_vec(), &mut bytes).unwrap();
/// assert_eq!(bytes, b"\x00\xffopaque");
/// assert_eq!(Raw.decode(&bytes).unwrap(), b"\x00\xffopaque");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Raw;

impl Codec<Vec<u8>> for Raw {
    fn encode(&self, value: &Vec<u8>, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(value);
        Ok(())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(bytes.to_vec())
    }
}

/// A record key type.
pub trait KafkaKey: Sized + Send + Sync + 'static {
    /// Appends the key's bytes to `out`; `false` when the record has no key.
    fn write_key(&self, out: &mut Vec<u8>) -> bool;
    /// Reads a key from a record's key bytes (`None`: the record has no key).
    fn read_key(bytes: Option<&[u8]>) -> Result<Self, CodecError>;
}

impl KafkaKey for () {
    fn write_key(&self, _: &mut Vec<u8>) -> bool {
        false
    }
    fn read_key(_: Option<&[u8]>) -> Result<Self, CodecError> {
        Ok(())
    }
}

fn required(bytes: Option<&[u8]>) -> Result<&[u8], CodecError> {
    bytes.ok_or_else(|| CodecError::new("the record has no key"))
}

impl KafkaKey for String {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(self.as_bytes());
        true
    }
    fn read_key(bytes: Option<&[u8]>) -> Result<Self, CodecError> {
        String::from_utf8(required(bytes)?.to_vec()).map_err(CodecError::new)
    }
}

impl KafkaKey for Vec<u8> {
    fn write_key(&self, out: &mut Vec<u8>) -> bool {
        out.extend_from_slice(self);
        true
    }
    fn read_key(bytes: Option<&[u8]>) -> Result<Self, CodecError> {
        Ok(required(bytes)?.to_vec())
    }
}

macro_rules! integer_keys {
    ($($t:ty),*) => {$(
        impl KafkaKey for $t {
            fn write_key(&self, out: &mut Vec<u8>) -> bool {
                out.extend_from_slice(self.to_string().as_bytes());
                true
            }
            fn read_key(bytes: Option<&[u8]>) -> Result<Self, CodecError> {
                let text = std::str::from_utf8(required(bytes)?).map_err(CodecError::new)?;
                text.parse().map_err(CodecError::new)
            }
        }
    )*};
}

integer_keys!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::*;

    /// What `Json` writes is byte for byte what serde_json writes, and reads back.
    fn same<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(value: &T) {
        let mut out = Vec::new();
        Json.encode(value, &mut out).unwrap();
        let expected = serde_json::to_vec(value).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
        let back: T = Json.decode(&out).unwrap();
        assert_eq!(&back, value);
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Order {
        order_id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        lines: Vec<(String, u32)>,
        kind: Kind,
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    enum Kind {
        Plain,
        Gift { to: String },
        Split(u8, u8),
    }

    #[test]
    fn json_writes_what_serde_json_writes() {
        same(&"quote \" backslash \\ slash / nl \n cr \r tab \t nul \u{0} bell \u{7} del \u{7f} é 日本 😀 \u{2028}".to_string());
        same(&vec![
            0.1f64,
            1e21,
            1e22,
            1e-7,
            -0.0,
            123_456_789.125,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ]);
        same(&vec![f32::MAX, 0.1f32, -3.5f32]);
        same(&(u64::MAX, i64::MIN, u128::MAX, i128::MIN, true, ()));
        same(&BTreeMap::from([
            ("b".to_string(), 1),
            ("a".to_string(), 2),
        ]));
        same(&BTreeMap::from([(3u32, "three".to_string())]));
        same(&Option::<u8>::None);
        for kind in [
            Kind::Plain,
            Kind::Gift { to: "Ann".into() },
            Kind::Split(1, 2),
        ] {
            same(&Order {
                order_id: 7,
                note: None,
                lines: vec![("sku-1".into(), 2)],
                kind,
            });
        }
        same(&serde_json::json!({"z": [1, 2.5, null, {"y": "x"}], "a": {"nested": true}}));
    }

    #[test]
    fn what_json_cannot_hold_is_null_or_an_error_as_with_serde_json() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut out = Vec::new();
            Json.encode(&value, &mut out).unwrap();
            assert_eq!(out, serde_json::to_vec(&value).unwrap());
        }
        let map = BTreeMap::from([((1, 2), 3)]);
        assert!(Json.encode(&map, &mut Vec::new()).is_err());
        assert!(serde_json::to_vec(&map).is_err());
    }

    proptest! {
        #[test]
        fn any_string_and_number_is_written_as_serde_json_writes_it(
            text in any::<String>(),
            number in any::<f64>().prop_filter("finite", |n| n.is_finite()),
            integer in any::<i64>(),
        ) {
            same(&(text, integer));
            let mut out = Vec::new();
            Json.encode(&number, &mut out).unwrap();
            prop_assert_eq!(out, serde_json::to_vec(&number).unwrap());
        }
    }
}
