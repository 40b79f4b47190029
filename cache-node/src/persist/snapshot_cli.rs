//! `cache-node snapshot inspect FILE` and `cache-node snapshot verify FILE`.

/// Runs `cache-node snapshot ARGS...` (ARGS without the leading "snapshot").
pub fn main(args: &[std::ffi::OsString]) -> std::process::ExitCode {
    let _ = args;
    eprintln!("cache-node snapshot: not implemented yet");
    std::process::ExitCode::from(2)
}
