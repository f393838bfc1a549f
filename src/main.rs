//! The `netvigil` binary: the workstation window, or a headless command.

use clap::Parser;
use netvigil::cli::{self, Cli};

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `netvigil inspect ... | head` would panic in println! once head
    // exits. Command-line tools end quietly there instead: restore the default action.
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Cli::parse();
    let data_dir = cli::data_dir(args.data_dir.as_ref());
    let result = match args.command {
        Some(command) => cli::run(command, data_dir),
        None => netvigil::app::run(args.files, data_dir),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
