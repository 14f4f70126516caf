//! The `nsm-tui` binary: parse arguments and run the chosen command (`nsm_tui::app`).

/// mimalloc: the pipeline allocates in one thread and frees in another (frames, events, rows),
/// which glibc malloc serves slowly; measured by `benches/pipeline.sh`. Built without
/// transparent huge pages (`no_thp`): with them a flood's peak memory in the database modes
/// was about 80 MB higher (`benches/memory.sh`), at no measured gain in speed. mimalloc 2
/// (`v2`) rather than 3: version 3 keeps freed pages for a second before returning them, and
/// under a flood of short flows that held 40-60 MB more at peak in the database modes.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use nsm_tui::app::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match nsm_tui::app::main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of standard output went away (`| head`): nothing more to say.
        Err(e) if nsm_tui::app::out::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsm-tui: error: {}", nsm_tui::app::out::error_text(&e));
            ExitCode::from(nsm_tui::app::out::exit_status(&e))
        }
    }
}
