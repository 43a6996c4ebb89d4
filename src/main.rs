use clap::Parser;

/// mimalloc instead of glibc's malloc: the request path allocates and frees
/// small buffers on several threads (HTTP workers, lapin's I/O thread), where
/// glibc's arenas showed as ~10 % of eventward's CPU under load (README,
/// "Benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
