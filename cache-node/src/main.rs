//! `cache-node` binary: parse the command line, set up logging, run the server.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: cache_node::memory::accounting::Counting<tikv_jemallocator::Jemalloc> =
    cache_node::memory::accounting::Counting::new(tikv_jemallocator::Jemalloc);

fn main() -> std::process::ExitCode {
    #[cfg(not(target_env = "msvc"))]
    cache_node::memory::accounting::install();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "snapshot") {
        return cache_node::persist::snapshot_cli::main(&args[2..]);
    }
    let config = match cache_node::cli::parse(args) {
        Ok(c) => c,
        Err(e) => {
            if let Some(clap_err) = e.downcast_ref::<clap::Error>() {
                let _ = clap_err.print();
                return std::process::ExitCode::from(if clap_err.use_stderr() { 2 } else { 0 });
            }
            eprintln!("cache-node: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let hook = match cache_node::logging::init(&config) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cache-node: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match cache_node::server::run_with_log_hook(config, hook) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cache-node failed");
            eprintln!("cache-node: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
