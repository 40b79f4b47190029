//! Set values. The set family's work gives this its real representation and compact
//! encodings; until then it is an empty shell so the Value enum is complete.

/// A set value.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Set {
    len: usize,
}

impl Set {
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
