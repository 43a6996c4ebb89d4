use clap::Parser;

fn main() -> std::process::ExitCode {
    eventward::logging::init();
    let cli = eventward::cli::Cli::parse();
    match eventward::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
