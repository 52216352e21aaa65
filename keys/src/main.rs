//! The `keys` binary: parses arguments, runs the command in [`cli`], and turns the outcome into an
//! exit code (0 done, 1 the trust list was refused, 2 error). Clap exits 2 itself on a usage
//! error and 0 on `--help`.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            eprintln!("keys: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
