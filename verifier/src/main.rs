//! The `verifier` binary: parses arguments, runs the command in [`cli`], and turns the outcome
//! into an exit code (0 valid or done, 1 invalid, 2 error). Clap exits 2 itself on a usage
//! error and 0 on `--help`.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    match cli::run(cli::Cli::parse()) {
        Ok(verdict) => ExitCode::from(verdict.exit_code()),
        Err(e) => {
            eprintln!("verifier: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
