//! The JSON body of a scoring request, deserialised straight into flows: each flow keeps its
//! fields in order as (key, cell), keys borrowed from the request's bytes when they hold no
//! escapes. serde_json's generic values would build a B-tree and a string per key.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::cells::number;

/// A flow object as read.
pub struct RawFlow<'de> {
    pub fields: Vec<(Cow<'de, str>, Cell<'de>)>,
}

/// One value of a flow object.
pub enum Cell<'de> {
    Number(f64),
    Text(Cow<'de, str>),
    Null,
    /// A boolean, an array or an object: never a flow field; what it was.
    Other(&'static str),
}

impl Cell<'_> {
    /// A feature's value: a number, a number written as text, or null/"" (an empty cell).
    pub fn feature(&self) -> Result<Option<f32>, String> {
        match self {
            Cell::Number(v) => Ok(Some(*v as f32)),
            Cell::Null => Ok(None),
            Cell::Text(t) => number(t.trim().as_bytes(), 0).map_err(|_| format!("'{t}' is not a number")),
            Cell::Other(what) => Err(format!("{what} is not a number")),
        }
    }

    /// A metadata value as the text a CSV cell would hold.
    pub fn text(&self) -> Result<Cow<'_, str>, String> {
        match self {
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => Ok(Cow::Owned(format!("{}", *v as i64))),
            Cell::Number(v) => Ok(Cow::Owned(v.to_string())),
            Cell::Text(t) => Ok(Cow::Borrowed(t.as_ref())),
            Cell::Null => Ok(Cow::Borrowed("")),
            Cell::Other(what) => Err(format!("{what} is not text or a number")),
        }
    }
}

/// The whole body: many flows, or one.
pub enum Body<'de> {
    Many(Vec<RawFlow<'de>>),
    One(RawFlow<'de>),
}

struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, text or null")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Cell<'de>, E> {
                Ok(Cell::Number(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Cell<'de>, E> {
                Ok(Cell::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Cell<'de>, E> {
                Ok(Cell::Number(v))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cell<'de>, E> {
                Ok(Cell::Text(Cow::Owned(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Cell<'de>, E> {
                Ok(Cell::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Cell<'de>, E> {
                Ok(Cell::Other("a boolean"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Cell<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Cell::Other("an array"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cell<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Cell::Other("an object"))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads the fields of a flow object whose first key (`first`) was already read.
fn fields<'de, A: MapAccess<'de>>(first: Cow<'de, str>, mut map: A) -> Result<RawFlow<'de>, A::Error> {
    let mut fields = Vec::with_capacity(96);
    fields.push((first, map.next_value::<Cell>()?));
    while let Some(Key(k)) = map.next_key::<Key>()? {
        fields.push((k, map.next_value::<Cell>()?));
    }
    Ok(RawFlow { fields })
}

impl<'de> Deserialize<'de> for RawFlow<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFlow<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a flow object keyed by feature names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFlow<'de>, A::Error> {
                match map.next_key::<Key>()? {
                    Some(Key(first)) => fields(first, map),
                    None => Ok(RawFlow { fields: Vec::new() }),
                }
            }
        }
        d.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Body<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of flow objects, {\"flows\": [...]}, or one flow object")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body<'de>, A::Error> {
                let mut flows = Vec::with_capacity(seq.size_hint().unwrap_or(16));
                while let Some(flow) = seq.next_element::<RawFlow>()? {
                    flows.push(flow);
                }
                Ok(Body::Many(flows))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body<'de>, A::Error> {
                let Some(Key(first)) = map.next_key::<Key>()? else {
                    return Ok(Body::One(RawFlow { fields: Vec::new() }));
                };
                if first == "flows" {
                    let flows = map.next_value::<Vec<RawFlow>>()?;
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    return Ok(Body::Many(flows));
                }
                fields(first, map).map(Body::One)
            }
        }
        d.deserialize_any(V)
    }
}
