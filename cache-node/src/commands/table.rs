//! The command table: every family's `COMMANDS` in one list, indexed by lower-case
//! name. A command's position in `all()` is its index for per-command statistics.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::spec::CommandSpec;
use super::{
    bitmaps, client, command, connection, db, dump, expire, geo, hashes, hyperloglog, info, keys, lists, memory, monitor, multi, persistence, pubsub,
    replication, scripting, server_cmds, sets, strings, zsets,
};

struct Table {
    list: Vec<&'static CommandSpec>,
    by_name: HashMap<&'static [u8], usize, foldhash::fast::RandomState>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let families: &[&'static [CommandSpec]] = &[
            connection::COMMANDS,
            server_cmds::COMMANDS,
            monitor::COMMANDS,
            persistence::COMMANDS,
            replication::COMMANDS,
            client::COMMANDS,
            command::COMMANDS,
            db::COMMANDS,
            info::COMMANDS,
            memory::COMMANDS,
            strings::COMMANDS,
            bitmaps::COMMANDS,
            keys::COMMANDS,
            dump::COMMANDS,
            expire::COMMANDS,
            lists::COMMANDS,
            hashes::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
            geo::COMMANDS,
            hyperloglog::COMMANDS,
            pubsub::COMMANDS,
            multi::COMMANDS,
            scripting::COMMANDS,
        ];
        let list: Vec<&'static CommandSpec> = families.iter().flat_map(|f| f.iter()).collect();
        let by_name = list.iter().enumerate().map(|(i, c)| (c.name.as_bytes(), i)).collect();
        Table { list, by_name }
    })
}

/// All commands, in table order.
pub fn all() -> &'static [&'static CommandSpec] {
    &table().list
}

pub fn lookup(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    let mut buf = [0u8; 32];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let t = table();
    let i = *t.by_name.get(&*lower)?;
    Some((i, t.list[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_found() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert!(c.arity != 0, "{} has arity 0", c.name);
            assert!(lookup(c.name.to_ascii_uppercase().as_bytes()).is_some());
        }
        assert!(lookup(b"no-such-command").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }
}
