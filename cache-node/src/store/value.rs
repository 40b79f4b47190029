//! Values stored under a key. Short strings are kept inside the entry itself (see
//! `node.rs`); everything else is a `Value` on the heap.

use super::hash::Hash;
use super::list::List;
use super::set::Set;
use super::zset::ZSet;

/// An owned value. Each data-structure type lives in its own file (`list.rs`,
/// `hash.rs`, `set.rs`, `zset.rs`) and chooses its own compact encodings.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

/// A borrowed view of a stored value.
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    /// A non-string value (never `Value::Str`).
    Obj(&'a Value),
}

impl<'a> ValueRef<'a> {
    pub fn from_value(v: &'a Value) -> Self {
        match v {
            Value::Str(s) => ValueRef::Str(s),
            other => ValueRef::Obj(other),
        }
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) => "string",
            ValueRef::Obj(v) => v.type_name(),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Str(s) => Value::Str(s.to_vec()),
            ValueRef::Obj(v) => (*v).clone(),
        }
    }
}

impl Value {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name OBJECT ENCODING reports for a value on the heap (strings kept inside the
    /// entry are named by the caller, which knows where they live).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }
}

/// True when `s` is the canonical decimal form of an i64 (what Redis stores as "int").
pub fn is_canonical_int(s: &[u8]) -> bool {
    s.len() <= 20 && crate::protocol::request::parse_i64(s).is_some()
}
#[cfg(test)]
mod tests {
    /// Every value on the heap is as big as the largest kind: a kind that grows its
    /// inline part grows every raw string and collection. Box big parts instead.
    #[test]
    fn values_stay_small() {
        assert!(size_of::<super::Value>() <= 40, "Value is {} bytes", size_of::<super::Value>());
    }
}
