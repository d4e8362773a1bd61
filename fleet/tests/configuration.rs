//! Every binary's configuration, as its clap command declares it, against
//! the README's tables: each flag's variable and default are in that
//! binary's table, and every variable a table names is one the binary
//! reads. Then the binaries themselves: `--help` and `--version` exit 0, an
//! invalid value exits 2 naming its variable, a blank variable counts as
//! unset and surrounding whitespace is trimmed.
//!
//! The second half needs the binaries: `cargo build --workspace --bins`.
use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use fleet::cluster::{binary_dir, free_port};
use tokio::process::Command;

const README: &str = include_str!("../../README.md");
/// The section every gRPC service's table refers to with `MYSQL_URL` … `OTEL_EXPORTER_OTLP_ENDPOINT`.
const SHARED: &str = "Shared by the six gRPC services";

/// One row of a README table: the variables its first cell names, its
/// default cell, and the row as written (for messages).
struct Row {
    names: Vec<String>,
    default: String,
    text: String,
}

impl Row {
    /// The row `MYSQL_URL` … `OTEL_EXPORTER_OTLP_ENDPOINT`: the shared table.
    fn is_shared_range(&self) -> bool {
        self.text.contains('…') && self.names.first().is_some_and(|n| n == "MYSQL_URL")
    }
}

/// The rows of the table under `### <heading>`.
fn table(heading: &str) -> Vec<Row> {
    let Some(start) = README.find(&format!("\n### {heading}\n")) else { panic!("README has no section {heading:?}") };
    let section = &README[start + 1..];
    let section = &section[..section[4..].find("\n#").map_or(section.len(), |end| end + 4)];
    section
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| variable "))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let names = cells[0]
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|name| name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .map(str::to_owned)
                .collect();
            Row { names, default: cells.get(1).copied().unwrap_or_default().to_owned(), text: line.to_owned() }
        })
        .collect()
}

/// Every argument with a variable, in the command and its subcommands:
/// the variable and its default values.
fn variables(command: &clap::Command) -> Vec<(String, Vec<String>)> {
    let mut found: Vec<(String, Vec<String>)> = command
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_string_lossy().into_owned();
            Some((env, arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect()))
        })
        .collect();
    for sub in command.get_subcommands() {
        found.extend(variables(sub));
    }
    found
}

/// Whether a default cell states `defaults`: a backticked value, `*(empty)*`
/// for the empty string, an italic note when there is none.
fn states(cell: &str, defaults: &[String]) -> bool {
    match defaults {
        [] => !cell.starts_with('`'),
        [value] if value.is_empty() => cell.contains("*(empty)*"),
        values => cell.contains(&format!("`{}`", values.join(","))),
    }
}

/// What is wrong between `command` and the table under `heading`; `reads`
/// is every variable the binary reads (more than its command for the fleet).
fn mismatches(heading: &str, command: &clap::Command, reads: &BTreeSet<String>) -> Vec<String> {
    let own = table(heading);
    let shared = table(SHARED);
    let mut rows: Vec<&Row> = own.iter().collect();
    if own.iter().any(Row::is_shared_range) {
        rows.extend(shared.iter());
    }
    let mut wrong = Vec::new();
    for (env, defaults) in variables(command) {
        let Some(row) = rows.iter().find(|row| row.names.contains(&env)) else {
            wrong.push(format!("### {heading}: no row for {env} (default {defaults:?})"));
            continue;
        };
        let row = if matches!(row.default.as_str(), "as above" | "see above") {
            shared.iter().find(|shared| shared.names.contains(&env)).unwrap_or(row)
        } else {
            row
        };
        if !states(&row.default, &defaults) {
            wrong.push(format!(
                "### {heading}: {env} defaults to {defaults:?}, but its row says otherwise: {}",
                row.text
            ));
        }
    }
    for row in rows.iter().filter(|row| !row.is_shared_range()) {
        for name in row.names.iter().filter(|name| !reads.contains(*name)) {
            wrong.push(format!("### {heading}: {name} is not read by this binary: {}", row.text));
        }
    }
    wrong
}

fn names(command: &clap::Command) -> BTreeSet<String> {
    variables(command).into_iter().map(|(env, _)| env).collect()
}

#[test]
fn the_readme_tables_match_every_binary_command() {
    let services = [
        ("identity", common::service_command::<identity::Config>()),
        ("catalog", common::service_command::<catalog::Config>()),
        ("cart", common::service_command::<cart::Config>()),
        ("order", common::service_command::<order::Config>()),
        ("payment", common::service_command::<payment::Config>()),
        ("analytics", common::service_command::<analytics::Config>()),
        ("gateway", common::service_command::<gateway::Config>()),
    ];
    let mut wrong = Vec::new();
    for (name, command) in &services {
        command.clone().debug_assert();
        wrong.extend(mismatches(&format!("`{name}`"), command, &names(command)));
    }
    // The fleet's services read their own settings, as their binaries do.
    let fleet = fleet::cli::command();
    fleet.clone().debug_assert();
    let mut reads = names(&fleet);
    for (_, command) in &services {
        reads.extend(names(command));
    }
    wrong.extend(mismatches("`fleet`", &fleet, &reads));
    assert!(wrong.is_empty(), "README.md and the binaries' commands disagree:\n{}", wrong.join("\n"));
}

#[test]
fn every_flag_is_named_after_its_variable() {
    let commands = [common::service_command::<payment::Config>(), common::service_command::<gateway::Config>()];
    for command in commands.iter().chain([&fleet::cli::command()]) {
        for arg in command.get_arguments() {
            if let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) {
                assert_eq!(long, env.to_string_lossy().to_lowercase().replace('_', "-"), "{}", command.get_name());
            }
        }
    }
}

/// Runs a binary of the workspace; its exit code, standard output and error.
async fn run(binary: &str, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(binary_dir().expect("binary folder").join(binary));
    command.args(args).envs(env.iter().copied()).stdin(Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output()).await.expect("exits").expect("ran");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn help_and_version_exit_zero_and_an_invalid_value_exits_two_naming_it() {
    for binary in ["identity", "catalog", "cart", "order", "payment", "analytics", "gateway", "fleet", "bench"] {
        let (code, help, _) = run(binary, &["--help"], &[]).await;
        assert!(code == Some(0) && help.contains("Usage:"), "{binary} --help: {code:?} {help}");
        let (code, version, _) = run(binary, &["--version"], &[]).await;
        assert!(code == Some(0) && version.starts_with(binary), "{binary} --version: {code:?} {version}");
    }
    let (code, _, stderr) = run("cart", &["--downstream-timeout-ms", "soon", "healthcheck"], &[]).await;
    assert!(code == Some(2) && stderr.contains("DOWNSTREAM_TIMEOUT_MS"), "flag: {code:?} {stderr}");
    let (code, _, stderr) = run("cart", &["healthcheck"], &[("DOWNSTREAM_TIMEOUT_MS", "soon")]).await;
    assert!(code == Some(2) && stderr.contains("DOWNSTREAM_TIMEOUT_MS"), "variable: {code:?} {stderr}");
}

#[tokio::test]
async fn blank_variables_count_as_unset_and_values_are_trimmed() {
    let addr = format!("127.0.0.1:{}", free_port().expect("port"));
    let env = [("CART_DB_CONNECTIONS", ""), ("DOWNSTREAM_TIMEOUT_MS", "  "), ("GRPC_ADDR", &format!(" {addr} \t"))];
    let (code, _, stderr) = run("cart", &["healthcheck"], &env).await;
    // Parsed (clap alone refuses "" as a number), then asked where nothing
    // listens: the trimmed address.
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with(&format!("cart unhealthy: {addr}:")), "{stderr}");
}

#[tokio::test]
async fn the_fleet_names_a_service_variable_that_does_not_parse() {
    // Nothing to reach, should it get that far.
    let nowhere = [("MYSQL_URL", "mysql://root@127.0.0.1:1"), ("REDIS_URL", "redis://127.0.0.1:1"), ("PORT", "1")];
    let env: Vec<(&str, &str)> = nowhere.into_iter().chain([("CART_DB_CONNECTIONS", "many")]).collect();
    let (code, _, stderr) = run("fleet", &[], &env).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("CART_DB_CONNECTIONS") && stderr.contains("'many'"), "{stderr}");
}
