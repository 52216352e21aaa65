//! The `verifier` binary: parses arguments, runs the command in [`cli`], and turns the outcome
//! into an exit code (0 valid or done, 1 invalid, 3 cannot decide, 2 error). A usage error
//! exits 2 (and 0 for `--help`/`--version`), with one JSON object on stdout for `verify --json`.

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let parsed = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => return ExitCode::from(cli::usage_error(&e, &args)),
    };
    match cli::run(parsed) {
        Ok(verdict) => ExitCode::from(verdict.exit_code()),
        Err(e) => {
            eprintln!("verifier: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
