//! The `#!lua flags=...` line a script may start with.

/// Script flags (Redis 7 names).
pub const NO_WRITES: u32 = 1 << 0;
pub const ALLOW_OOM: u32 = 1 << 1;
pub const ALLOW_STALE: u32 = 1 << 2;
pub const NO_CLUSTER: u32 = 1 << 3;
pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
/// No shebang: the script runs with the permissive rules of Redis 6 scripts.
pub const LEGACY: u32 = 1 << 31;

/// The flags a script declares and the body with its shebang line blanked (kept as an
/// empty line so error line numbers match the text the client sent).
pub fn parse(body: &[u8]) -> Result<(u32, std::borrow::Cow<'_, [u8]>), String> {
    if !body.starts_with(b"#!") {
        return Ok((LEGACY, std::borrow::Cow::Borrowed(body)));
    }
    let end = body.iter().position(|&b| b == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    if parts.next() != Some("#!lua") {
        return Err(format!("Unexpected engine in script shebang: {line}"));
    }
    let mut flags = 0;
    for opt in parts {
        let Some(list) = opt.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {opt}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            flags |= match f {
                "no-writes" => NO_WRITES,
                "allow-oom" => ALLOW_OOM,
                "allow-stale" => ALLOW_STALE,
                "no-cluster" => NO_CLUSTER,
                "allow-cross-slot-keys" => ALLOW_CROSS_SLOT,
                other => return Err(format!("Unexpected flag in script shebang: {other}")),
            };
        }
    }
    let mut rest = body[end..].to_vec();
    rest.shrink_to_fit();
    Ok((flags, std::borrow::Cow::Owned(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebangs_parse_like_redis() {
        assert_eq!(parse(b"return 1").unwrap().0, LEGACY);
        let (f, body) = parse(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert_eq!(f, NO_WRITES | ALLOW_OOM);
        assert_eq!(&*body, b"\nreturn 1");
        assert_eq!(parse(b"#!lua\nreturn 1").unwrap().0, 0);
        assert_eq!(parse(b"#!lua flags=\nreturn 1").unwrap().0, 0);
        assert_eq!(parse(b"#!lua flags=bogus\n").unwrap_err(), "Unexpected flag in script shebang: bogus");
        assert_eq!(parse(b"#!lua name=x\n").unwrap_err(), "Unknown lua shebang option: name=x");
        assert_eq!(parse(b"#!notlua\nreturn 1").unwrap_err(), "Unexpected engine in script shebang: #!notlua");
    }
}
