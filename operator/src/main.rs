use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cachefleet_operator::cli::Cli::parse();
    match cachefleet_operator::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cachefleet-operator: {e:#}");
            ExitCode::FAILURE
        }
    }
}
