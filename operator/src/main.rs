fn main() {
    let arg = std::env::args().nth(1);
    match arg.as_deref() {
        Some("--version") | Some("-V") => {
            println!("cachefleet-operator {}", cachefleet_operator::VERSION)
        }
        _ => {
            eprintln!("cachefleet-operator {}: the controller is not built yet (see docs/architecture.md)", cachefleet_operator::VERSION);
            std::process::exit(2);
        }
    }
}
