//! A borrowed JSON tree tolerant of the type drift real sensors show.
//!
//! Sensors disagree on types: one writes `"EventID": 4624`, the next `"EventID": "4624"`,
//! ports arrive as numbers or strings, booleans as `true` or `"true"`. Normalizers read
//! values through accessors that accept every such spelling instead of failing on them.
//!
//! Strings borrow from the record where JSON allows it (no escapes), so a 3 KB Windows
//! event is parsed with few allocations. Objects keep their keys in order in a vector:
//! records have tens of keys, where a linear scan beats hashing.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value borrowing from its source text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Object<'a>),
}

/// A JSON object: its members in source order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Object<'a>(pub(crate) Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> Object<'a> {
    /// Parses one JSON object.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let object = de.deserialize_map(ObjectVisitor)?;
        de.end()?;
        Ok(object)
    }

    /// The member named `key`, compared exactly.
    pub(crate) fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The first of `keys` that is present with a meaningful value (see [`Value::text`]).
    pub(crate) fn text_of(&self, keys: &[&str]) -> Option<Cow<'_, str>> {
        keys.iter()
            .find_map(|key| self.get(key).and_then(Value::text))
    }

    /// The value at a path of member names.
    pub(crate) fn path(&self, path: &[&str]) -> Option<&Value<'a>> {
        let (last, parents) = path.split_last()?;
        let mut object = self;
        for key in parents {
            object = object.get(key)?.as_object()?;
        }
        object.get(last)
    }

    /// The members, in source order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }
}

impl<'a> Value<'a> {
    pub(crate) fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The value as text if it is a string, number or boolean with something in it.
    /// Empty strings and Windows' `-` placeholder count as absent.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => {
                let trimmed = s.trim();
                (!trimmed.is_empty() && trimmed != "-").then_some(Cow::Borrowed(trimmed))
            }
            Value::Int(n) => Some(Cow::Owned(n.to_string())),
            Value::Float(f) => Some(Cow::Owned(f.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }

    /// The value as an integer, from a number or a decimal or `0x` hex string.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9e15 => Some(*f as i64),
            Value::Str(s) => {
                let s = s.trim();
                match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(hex) => i64::from_str_radix(hex, 16).ok(),
                    None => s.parse().ok(),
                }
            }
            _ => None,
        }
    }

    /// The value as a float, from a number or a numeric string.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a port number (1 to 65535 as a number or string; 0 counts as absent).
    pub(crate) fn as_port(&self) -> Option<u16> {
        self.as_i64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&p| p != 0)
    }

    /// The value as a boolean, from `true`/`false`, `"true"`/`"false"`, `"T"`/`"F"`, 1/0.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(n) => Some(*n != 0),
            Value::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "1" => Some(true),
                "false" | "f" | "no" | "0" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match i64::try_from(v) {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Float(v as f64),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::Float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(ValueSeed)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        ObjectVisitor.visit_map(map).map(Value::Object)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Object<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16).min(128));
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(ValueSeed)?;
            members.push((key, value));
        }
        Ok(Object(members))
    }
}

struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(ValueVisitor)
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ports_read_the_same_as_numbers_or_strings() {
        let a = Object::parse(br#"{"EventID": 4624, "IpPort": "52986"}"#).unwrap();
        let b = Object::parse(br#"{"EventID": "4624", "IpPort": 52986}"#).unwrap();
        for object in [&a, &b] {
            assert_eq!(object.get("EventID").and_then(Value::as_i64), Some(4624));
            assert_eq!(object.get("IpPort").and_then(Value::as_port), Some(52986));
        }
    }

    #[test]
    fn strings_without_escapes_borrow() {
        let object = Object::parse(br#"{"Hostname": "WORKSTATION6", "Path": "C:\\x"}"#).unwrap();
        assert!(matches!(
            object.get("Hostname"),
            Some(Value::Str(Cow::Borrowed(_)))
        ));
        assert_eq!(
            object.get("Path").and_then(Value::text).as_deref(),
            Some("C:\\x")
        );
    }

    #[test]
    fn placeholders_are_absent() {
        let object = Object::parse(br#"{"a": "-", "b": "  ", "c": null}"#).unwrap();
        assert_eq!(object.text_of(&["a", "b", "c"]), None);
    }

    #[test]
    fn paths_descend_objects() {
        let object = Object::parse(br#"{"Event": {"System": {"EventID": 7045}}}"#).unwrap();
        let id = object
            .path(&["Event", "System", "EventID"])
            .and_then(Value::as_i64);
        assert_eq!(id, Some(7045));
        assert!(object.path(&["Event", "Nope", "EventID"]).is_none());
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(Object::parse(br#"{"a": 1} x"#).is_err());
        assert!(Object::parse(br#"[1]"#).is_err());
    }
}
