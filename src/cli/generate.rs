//! `netvigil completions SHELL` and `netvigil manpages DIR`: shell completions and man pages
//! generated from the command line's own definition (clap_complete, clap_mangen), so they never
//! drift from the options. The package script (packaging/build.sh) installs both.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::Cli;
use std::io::Write;

use crate::ingest::export::write_atomically;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// Folder to write netvigil.1 and one netvigil-SUBCOMMAND.1 per subcommand into.
    pub dir: PathBuf,
}

/// Prints the completion script for `shell` on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "netvigil", &mut std::io::stdout());
    Ok(())
}

/// Writes the man pages (section 1) into `args.dir`, each file atomically.
pub fn manpages(args: &ManpagesArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let command = Cli::command();
    write_page(&args.dir, "netvigil", command.clone())?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap names commands with &'static str (without its "string" feature); a dozen short
        // names leaked once in a command that exits right after is the lighter choice.
        let name: &'static str = Box::leak(format!("netvigil-{}", sub.get_name()).into_boxed_str());
        write_page(&args.dir, name, sub.clone().name(name))?;
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(command).section("1").render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    Ok(write_atomically(&path, |out| out.write_all(&page))?)
}
