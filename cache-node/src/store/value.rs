//! Values stored under a key. Short strings are kept inside the entry itself (see
//! `node.rs`); everything else is a `Value` on the heap.

/// An owned value. The data-structure families (lists, hashes, sets, sorted sets) add
/// their variants here.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
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
            #[allow(unreachable_patterns)]
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
        }
    }
}

/// True when `s` is the canonical decimal form of an i64 (what Redis stores as "int").
pub fn is_canonical_int(s: &[u8]) -> bool {
    s.len() <= 20 && crate::protocol::request::parse_i64(s).is_some()
}
