//! The `nsm-tui` binary: parse arguments, load configuration, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use nsm_tui::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsm-tui: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let loaded =
        nsm_tui::config::load(cli.global.config.as_deref(), &nsm_tui::config::process_env)?;
    let mut config = loaded.config;
    cli.global.apply(&mut config);
    config.validate()?;
    match cli.command {
        Some(Command::Read { file }) => nsm_tui::run::read(&file, &config),
        Some(Command::Generate {
            out,
            packets,
            seed,
            attack_share,
            session_gap_us,
        }) => {
            let opts = nsm_tui::synth::SynthOptions {
                packets,
                seed,
                attack_share,
                session_gap_us,
                ..Default::default()
            };
            let n = nsm_tui::run::generate(&out, opts)?;
            println!("wrote {n} packets to {}", out.display());
            Ok(())
        }
        Some(Command::Config { print }) => {
            if print {
                if let Some(src) = &loaded.source {
                    println!(
                        "# effective configuration (file {}, then environment, then flags)",
                        src.display()
                    );
                } else {
                    println!("# effective configuration (defaults, then environment, then flags)");
                }
                print!("{}", config.to_toml_masked());
            } else {
                println!("configuration OK");
            }
            Ok(())
        }
        Some(Command::Replay { file, speed, fast }) => {
            nsm_tui::tui::console::replay(&file, nsm_tui::tui::console::speed(speed, fast), &config)
        }
        Some(Command::Demo { speed, fast }) => {
            // The demo writes nothing unless asked to.
            config.storage.db_enabled = cli.global.db.is_some();
            config.storage.pcap_log_enabled = cli.global.pcap_log.is_some();
            nsm_tui::tui::console::demo(nsm_tui::tui::console::speed(speed, fast), &config)
        }
        Some(Command::Respond(cmd)) => nsm_tui::respond::cmd::run(cmd, &config),
        None if cli.headless => nsm_tui::run::headless(&config),
        None => nsm_tui::tui::console::live(&config),
    }
}
