//! MULTI ... EXEC in an append-only file: where an unfinished transaction starts.

/// The offset of the MULTI that is still open after the command `argv`, read at byte
/// `at`, given the one open before it.
pub fn transaction_start(argv: &[Vec<u8>], at: u64, open: Option<u64>) -> Option<u64> {
    let Some(name) = argv.first() else { return open };
    if name.eq_ignore_ascii_case(b"multi") {
        // A nested MULTI fails on replay; the outer transaction stays the open one.
        open.or(Some(at))
    } else if name.eq_ignore_ascii_case(b"exec") || name.eq_ignore_ascii_case(b"discard") {
        None
    } else {
        open
    }
}

#[cfg(test)]
mod tests {
    use super::transaction_start;

    fn run(cmds: &[&str]) -> Option<u64> {
        let mut open = None;
        for (i, c) in cmds.iter().enumerate() {
            let argv: Vec<Vec<u8>> = c.split(' ').map(|a| a.as_bytes().to_vec()).collect();
            open = transaction_start(&argv, i as u64 * 10, open);
        }
        open
    }

    #[test]
    fn tracks_the_open_transaction() {
        assert_eq!(run(&["SET a 1", "MULTI", "SET b 1", "EXEC"]), None);
        assert_eq!(run(&["SET a 1", "MULTI", "SET b 1"]), Some(10));
        assert_eq!(run(&["multi", "set b 1", "discard", "MULTI"]), Some(30));
        assert_eq!(run(&["MULTI", "MULTI", "SET b 1"]), Some(0));
        assert_eq!(run(&[]), None);
    }
}
