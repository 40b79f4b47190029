//! Which partitions a write command holds from start to end (see store/scope.rs): the
//! keys its table entry names, or what its `ScopeKeys` says for the few commands whose
//! keys live in other databases or behind keywords.

use smallvec::SmallVec;

use super::args;
use super::spec::CommandSpec;

/// (database, key) pairs a command touches.
pub type Pairs<'a> = SmallVec<[(usize, &'a [u8]); 8]>;

/// How to find what a write command touches.
#[derive(Clone, Copy, Debug)]
pub enum ScopeKeys {
    /// The key positions of the table entry, in the selected database.
    Keys,
    /// Every partition of the selected database (FLUSHDB).
    Db,
    /// Every partition of every database (FLUSHALL, SWAPDB).
    All,
    /// Computed from the arguments: (argv, selected db, databases) -> pairs.
    Custom(for<'a> fn(&[&'a [u8]], usize, usize, &mut Pairs<'a>)),
}

/// The resolved plan for one call.
pub enum Plan<'a> {
    Pairs(Pairs<'a>),
    Db(usize),
    All,
}

pub fn plan<'a>(spec: &CommandSpec, argv: &[&'a [u8]], db: usize, databases: usize) -> Plan<'a> {
    match spec.scope {
        ScopeKeys::Keys => Plan::Pairs(spec.key_positions(argv).into_iter().map(|i| (db, argv[i])).collect()),
        ScopeKeys::Db => Plan::Db(db),
        ScopeKeys::All => Plan::All,
        ScopeKeys::Custom(f) => {
            let mut out = spec.key_positions(argv).into_iter().map(|i| (db, argv[i])).collect();
            f(argv, db, databases, &mut out);
            Plan::Pairs(out)
        }
    }
}

fn db_arg(a: &[u8], databases: usize) -> Option<usize> {
    std::str::from_utf8(a).ok()?.parse::<usize>().ok().filter(|d| *d < databases)
}

/// COPY source destination [DB n]: the destination may be in database n.
pub fn copy_keys<'a>(argv: &[&'a [u8]], _db: usize, databases: usize, out: &mut Pairs<'a>) {
    // Every DB argument (the last one wins; an extra lock is harmless).
    for w in argv.get(3..).unwrap_or_default().windows(2) {
        if args::is(w[0], "db")
            && let Some(d) = db_arg(w[1], databases)
        {
            out.push((d, argv[2]));
        }
    }
}

/// MOVE key db: the key in the target database.
pub fn move_keys<'a>(argv: &[&'a [u8]], _db: usize, databases: usize, out: &mut Pairs<'a>) {
    if let Some(d) = argv.get(2).and_then(|a| db_arg(a, databases)) {
        out.push((d, argv[1]));
    }
}

/// GEORADIUS... STORE key / STOREDIST key (over-approximated: an extra lock is harmless).
pub fn store_keys<'a>(argv: &[&'a [u8]], db: usize, _databases: usize, out: &mut Pairs<'a>) {
    out.extend(argv.windows(2).filter(|w| args::is(w[0], "store") || args::is(w[0], "storedist")).map(|w| (db, w[1])));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(f: for<'a> fn(&[&'a [u8]], usize, usize, &mut Pairs<'a>), argv: &[&'static [u8]]) -> Vec<(usize, &'static [u8])> {
        let mut out = Pairs::new();
        f(argv, 0, 16, &mut out);
        out.into_vec()
    }

    #[test]
    fn keys_in_other_databases_and_behind_keywords() {
        assert_eq!(pairs(copy_keys, &[b"copy", b"a", b"b", b"DB", b"3", b"REPLACE"]), vec![(3, &b"b"[..])]);
        assert_eq!(pairs(copy_keys, &[b"copy", b"a", b"b", b"db", b"99"]), vec![]);
        assert_eq!(pairs(copy_keys, &[b"copy", b"a", b"b"]), vec![]);
        assert_eq!(pairs(copy_keys, &[b"copy", b"a", b"b", b"db", b"1", b"db", b"2"]), vec![(1, &b"b"[..]), (2, &b"b"[..])]);
        assert_eq!(pairs(move_keys, &[b"move", b"k", b"2"]), vec![(2, &b"k"[..])]);
        assert_eq!(pairs(move_keys, &[b"move", b"k", b"x"]), vec![]);
        assert_eq!(pairs(store_keys, &[b"georadius", b"g", b"1", b"2", b"3", b"km", b"STORE", b"d", b"storedist", b"e"]), vec![(0, &b"d"[..]), (0, &b"e"[..])]);
    }
}
