//! Every binary's command line, read through clap: each setting is a flag
//! with an environment variable (`env`), so one derive gives `--help`, the
//! defaults and the parsing, and the README's tables are checked against it.
//!
//! The environment keeps the meaning it had before clap: a blank variable
//! counts as unset (clap alone would take the empty string as a value) and
//! surrounding whitespace is trimmed. A flag's value is named after its
//! variable, so clap's messages name the variable too. Help never prints a
//! variable's value, as several are secrets.
use std::ffi::OsStr;
use std::time::Duration;

use clap::{ArgMatches, Args, Command, FromArgMatches};

use crate::StartupError;

/// `command` with the environment read as documented above, its
/// subcommands too.
pub fn prepare(command: Command) -> Command {
    command.mut_args(read_env_as_documented).mut_subcommands(prepare)
}

fn read_env_as_documented(arg: clap::Arg) -> clap::Arg {
    let Some(name) = arg.get_env().map(|name| name.to_string_lossy().into_owned()) else { return arg };
    let arg = arg.hide_env_values(true);
    let arg = if arg.get_action().takes_values() { arg.value_name(name.clone()) } else { arg };
    let Some(value) = std::env::var_os(&name) else { return arg };
    let Some(text) = value.to_str() else { return arg };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        arg.env(None::<&str>)
    } else if trimmed.len() == text.len() {
        arg
    } else {
        // clap reads a variable as it is; the trimmed value stands in as
        // the default, which is where it would have come from anyway.
        arg.env(None::<&str>).default_value(trimmed.to_owned())
    }
}

/// The process's command line parsed with `command` (prepared here) into
/// `T`, with the matches for whatever else the command holds. `--help`,
/// `--version` and an invalid value exit here, as clap does: 0 for the
/// first two, 2 with clap's message for the last.
pub fn parse<T: FromArgMatches>(command: Command) -> (T, ArgMatches) {
    let mut command = prepare(command);
    let matches = command.get_matches_mut();
    match T::from_arg_matches(&matches) {
        Ok(parsed) => (parsed, matches),
        Err(error) => error.format(&mut command).exit(),
    }
}

/// `T` from the environment alone, no command line: how the fleet builds
/// every service's configuration in one process, and the tests theirs.
pub fn from_env<T: Args + FromArgMatches>() -> Result<T, StartupError> {
    let mut command = prepare(T::augment_args(Command::new("environment").no_binary_name(true)));
    let parsed = command
        .try_get_matches_from_mut(std::iter::empty::<&OsStr>())
        .and_then(|mut matches| T::from_arg_matches_mut(&mut matches));
    parsed.map_err(|error| {
        // Its first line, which names the flag and (as its value) the variable.
        let rendered = error.to_string();
        StartupError::Config(rendered.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned())
    })
}

/// Milliseconds, as the `*_MS` settings are given.
pub fn millis(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_millis)
}

/// Seconds, as the `*_SECS` and `*_TTL` settings are given.
pub fn secs(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_secs)
}
