//! The `netvigil` binary: the workstation window, or a headless command.

use clap::Parser;
use netvigil::cli::{self, Cli, Command};

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so `netvigil inspect ... | head` would panic in println! once head
    // exits. Command-line tools end quietly there instead: restore the default action.
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Without a desktop session (SSH, CI, a server) the GPU probe's Vulkan instance loads
    // Mesa's device-select layer, which asks a Wayland compositor for the session's default GPU
    // and makes libwayland print "error: XDG_RUNTIME_DIR is invalid or not set" twice on every
    // command. There is no session to ask there, so the layer is switched off; a user's own
    // NODEVICE_SELECT is left as it is.
    #[cfg(unix)]
    if std::env::var_os("XDG_RUNTIME_DIR").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
        && std::env::var_os("NODEVICE_SELECT").is_none()
    {
        // SAFETY: still first thing in main, before any other thread exists to read the
        // environment concurrently.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Cli::parse();
    let data_dir = cli::data_dir(args.data_dir.as_ref());
    // The binary starts the front ends; they never start each other.
    let result = match args.command {
        Some(Command::BenchGui(a)) => netvigil::app::bench::run(&netvigil::app::bench::GuiBenchOptions {
            read: a.input.read_options(),
            inputs: a.input.inputs,
            frames: a.frames,
            model: a.model,
            json: a.json,
        }),
        Some(Command::Serve(a)) => netvigil::serve::run(&netvigil::serve::ServeOptions {
            model: a.model,
            bind: a.bind,
            token_file: a.token_file,
            max_body_bytes: a.max_body_mib << 20,
            concurrency: a.concurrency,
            timeout: std::time::Duration::from_secs(a.timeout_s),
            device: a.device,
            data_dir,
        }),
        Some(Command::BenchServe(a)) => netvigil::serve::bench::run(&netvigil::serve::bench::ServeBenchOptions {
            inputs: a.inputs,
            model: a.model,
            concurrency: a.concurrency,
            flows_per_request: a.flows,
            seconds: a.seconds,
            json: a.json,
            data_dir,
        }),
        Some(command) => cli::run(command, data_dir),
        None => {
            let launcher = std::sync::Arc::new(netvigil::serve::Launcher { data_dir: data_dir.clone() });
            netvigil::app::run(args.files, data_dir, Some(launcher))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
