//! The commands: one file per command family, each turning the effective configuration into a
//! run of the layers below and printing what the user asked for. `main.rs` parses the
//! arguments and calls [`main`]; nothing below `app` knows about commands.

pub mod cli;
pub mod console;
pub mod docs;
pub mod incidents;
pub mod learn;
pub mod logging;
pub mod notify;
pub mod out;
pub mod privilege;
pub mod report;
pub mod respond;
pub mod run;
pub mod train;

use anyhow::Context;
use cli::{Cli, Command};
use out::{out, outln};

/// Runs the command `cli` names, after loading the configuration it points to.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    logging::init(
        logging::level(cli.log.verbose, cli.log.quiet),
        cli.log.log_format,
    );
    cli.check().map_err(anyhow::Error::msg)?;
    // Documentation comes from the argument definitions alone, whatever the configuration.
    if let Some(Command::GenerateDocs { dir }) = &cli.command {
        for p in docs::generate(dir)? {
            outln!("wrote {}", p.display());
        }
        return Ok(());
    }
    let loaded = crate::config::load(cli.config.as_deref(), &crate::config::process_env)?;
    let mut config = loaded.config;
    cli.apply(&mut config);
    config.validate()?;
    // A capture writes as `[sniffer] user` once open; a later root run takes those files.
    if let Ok(privilege::Keep::Nothing(user)) =
        privilege::plan(&config, privilege::Runner::Headless)
    {
        crate::store::safe_file::trust_capture_owner(user.uid);
    }
    if let Some((file, filter)) = cli.read_input() {
        // `read FILE` and `-r FILE`: one path.
        return run::read(&file, filter.as_deref(), &config);
    }
    match cli.command {
        // Answered above by `read_input`.
        Some(Command::Read { .. }) => Ok(()),
        Some(Command::Generate {
            out,
            profile,
            packets,
            seed,
            attack_share,
            session_gap_us,
        }) => {
            let opts = crate::synth::SynthOptions {
                profile: profile.parse().map_err(anyhow::Error::msg)?,
                packets,
                seed,
                attack_share,
                session_gap_us,
                ..Default::default()
            };
            let n = run::generate(&out, opts)?;
            outln!("wrote {n} packets to {}", out.display());
            Ok(())
        }
        Some(Command::Config { print, .. }) => {
            if print {
                if let Some(src) = &loaded.source {
                    outln!(
                        "# effective configuration (file {}, then environment, then flags)",
                        src.display()
                    );
                } else {
                    outln!("# effective configuration (defaults, then environment, then flags)");
                }
                for line in sources(&config)? {
                    outln!("# {line}");
                }
                out!("{}", config.to_toml_masked());
            } else {
                sources(&config)?;
                outln!("configuration OK");
            }
            Ok(())
        }
        Some(Command::Replay {
            file, speed, fast, ..
        }) => console::replay(&file, console::speed(speed, fast), &config),
        Some(Command::Demo { speed, fast, .. }) => {
            console::demo(console::speed(speed, fast), &config)
        }
        Some(Command::Train {
            labels,
            out,
            folds,
            fold_by,
            trees,
            seed,
            captures,
        }) => train::run(
            &train::TrainArgs {
                labels,
                out,
                folds,
                fold_by,
                trees,
                seed,
                captures,
            },
            &config,
        ),
        Some(Command::Respond(cmd)) => respond::run(cmd, &config),
        Some(Command::GenerateDocs { .. }) => Ok(()),
        Some(Command::Learn {
            captures,
            live,
            out,
            db,
            ..
        }) => learn::learn(&captures, live, out.as_deref(), db.db.as_deref(), &config),
        Some(Command::Profile {
            cmd: cli::ProfileCmd::Show { host },
            ..
        }) => learn::show_profile(host, &config),
        None if cli.headless => run::headless(&config),
        None => console::live(&config),
    }
}

/// Which signature set and GeoIP databases the configuration selects, loaded as a run would
/// load them (so `config` fails as the run would): `signatures: built-in (57 signatures)`.
fn sources(c: &crate::config::Config) -> anyhow::Result<Vec<String>> {
    let (set, origin) = crate::pipeline::detectors::load_configured(c)?;
    let mut lines = vec![format!("signatures: {origin} ({} signatures)", set.len())];
    let (geo, _) = crate::enrich::geoip::GeoIp::from_config(&c.geoip)
        .context("checking the GeoIP databases")?;
    lines.push(match geo {
        Some(g) => format!("geoip: {}", g.sources().join(", ")),
        None => "geoip: off".to_string(),
    });
    Ok(lines)
}
