//! Constants of the RDB format (names as in Redis's rdb.h).

/// The version Redis 7.0 writes.
pub const RDB_VERSION: u16 = 10;
/// The newest version read: 11 is Redis 7.2's, whose only additions we read are listpack
/// sets; 12 and later (Redis 7.4+, hash field expiry...) are refused.
pub const MAX_READ_VERSION: u32 = 11;

pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

pub mod op {
    pub const FUNCTION_PRE_GA: u8 = 245;
    pub const FUNCTION2: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Length encodings: the top two bits of the first byte.
pub mod len {
    pub const BITS_6: u8 = 0;
    pub const BITS_14: u8 = 1;
    pub const BITS_32: u8 = 0x80;
    pub const BITS_64: u8 = 0x81;
    /// `11xxxxxx`: not a length but a special string encoding.
    pub const ENCVAL: u8 = 3;
    pub const ENC_INT8: u8 = 0;
    pub const ENC_INT16: u8 = 1;
    pub const ENC_INT32: u8 = 2;
    pub const ENC_LZF: u8 = 3;
}

/// Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2).
pub const QUICKLIST_PLAIN: u64 = 1;
pub const QUICKLIST_PACKED: u64 = 2;

/// Strings longer than this are LZF-compressed when compression is on (as Redis).
pub const COMPRESS_MIN: usize = 20;
/// Packed bytes per list node, as Redis's default `list-max-listpack-size -2` (8 KB).
pub const LIST_NODE_BYTES: usize = 8192;
