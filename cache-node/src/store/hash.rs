//! Hash values. The hash family's work gives this its real representation and compact
//! encodings; until then it is an empty shell so the Value enum is complete.

/// A hash value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hash {
    len: usize,
}

impl Hash {
    /// Elements held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
