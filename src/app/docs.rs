//! `nsm-tui generate-docs DIR`: the man pages (`man1/`) and the bash, zsh and fish completions
//! (`completions/`), rendered from the same clap definitions the binary parses, so the package
//! ships documentation that matches the binary it ships.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::cli::Cli;

/// Writes `DIR/man1/nsm-tui*.1` and `DIR/completions/{nsm-tui.bash,_nsm-tui,nsm-tui.fish}`;
/// returns the files written.
pub fn generate(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let man = dir.join("man1");
    let comp = dir.join("completions");
    for d in [&man, &comp] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    clap_mangen::generate_to(Cli::command(), &man)
        .with_context(|| format!("writing the man pages to {}", man.display()))?;
    let mut written: Vec<_> = std::fs::read_dir(&man)
        .with_context(|| format!("listing {}", man.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    written.sort();
    let mut cmd = Cli::command();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let p = clap_complete::generate_to(shell, &mut cmd, "nsm-tui", &comp)
            .with_context(|| format!("writing the {shell} completion to {}", comp.display()))?;
        written.push(p);
    }
    Ok(written)
}
