//! One element of a compact blob (listpack, ziplist, intset, zipmap): a byte string or
//! an integer that stands for its decimal text.

use crate::store::set::{IntBuf, fmt_int};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl<'a> Item<'a> {
    /// The element's bytes: the string itself, or the integer's text written into `buf`.
    pub fn bytes<'b>(&self, buf: &'b mut IntBuf) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Item::Str(s) => s,
            Item::Int(v) => fmt_int(v, buf),
        }
    }
}
