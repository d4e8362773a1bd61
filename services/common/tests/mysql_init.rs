//! `deploy/mysql/init.sql` against the real MariaDB, as the MariaDB
//! container gets it: rendered by `deploy/mysql/init.sh` (run here with
//! `--print`, the same rendering the container sources) with a password in
//! each variable that a service's `MYSQL_URL` in `docker-compose.yml` names.
//! Each service's DB user can then create, read and write in its own schema
//! (the very start-up path of a service: `common::db::connect` with that
//! service's migrations) and cannot reach any other schema. Compose, the
//! template and the script must agree on every variable for that to hold.
//! Besides, init.sh quotes any password safely (the server reads back
//! exactly the value given) and refuses to render without every password.
//!
//! The server is shared with other test runs, so the real names are never
//! created: every schema and user name in the rendered SQL is rewritten with
//! a unique prefix, each statement is checked to name nothing else before it
//! runs, and the prefixed users and schemas are dropped afterwards, also
//! when the test fails.
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr;

use futures::FutureExt;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection};

/// A service of docker-compose.yml (also its crate's folder under
/// `services/`), the schema it owns and the DB user init.sql makes for it.
struct Service {
    name: &'static str,
    schema: &'static str,
    user: &'static str,
}

const SERVICES: &[Service] = &[
    Service { name: "identity", schema: "identity", user: "identity" },
    Service { name: "catalog", schema: "catalog", user: "catalog" },
    Service { name: "cart", schema: "cart", user: "cart" },
    Service { name: "order", schema: "orders", user: "orders" },
    Service { name: "payment", schema: "payment", user: "payment" },
    Service { name: "analytics", schema: "analytics", user: "analytics" },
];

/// ER_DBACCESS_DENIED_ERROR and ER_TABLEACCESS_DENIED_ERROR: refused for
/// want of a privilege (unlike "no such table", which would mean the
/// schema was reachable).
const ACCESS_DENIED: [u16; 2] = [1044, 1142];

fn repository_path(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn repository_file(path: &str) -> String {
    let full = repository_path(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// `bash deploy/mysql/init.sh --print` with only `PATH` and `variables` in
/// its environment.
fn render_init_sql(variables: &[(&str, &str)]) -> Output {
    let mut command = Command::new("bash");
    command.arg(repository_path("deploy/mysql/init.sh")).arg("--print").env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command.envs(variables.iter().copied()).output().expect("running bash deploy/mysql/init.sh")
}

/// init.sql as init.sh renders it with `variables`.
fn rendered_init_sql(variables: &[(&str, &str)]) -> String {
    let output = render_init_sql(variables);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "deploy/mysql/init.sh --print failed: {stderr}");
    String::from_utf8(output.stdout).expect("init.sh prints UTF-8")
}

/// The statements of a SQL file: whole-line `--` comments dropped, split
/// at `;`.
fn statements(sql: &str) -> Vec<String> {
    let code: Vec<&str> = sql.lines().filter(|line| !line.trim_start().starts_with("--")).collect();
    code.join("\n").split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// Every schema (`name`) and user ('name'@) of the services renamed with
/// `prefix`.
fn prefixed(statement: &str, prefix: &str) -> String {
    let mut statement = statement.to_owned();
    for service in SERVICES {
        statement = statement.replace(&format!("`{}`", service.schema), &format!("`{prefix}{}`", service.schema));
        statement = statement.replace(&format!("'{}'@", service.user), &format!("'{prefix}{}'@", service.user));
    }
    statement
}

/// Refuses a statement that could touch anything but `prefix`ed names on
/// the shared server: an unknown kind of statement, a schema or user
/// without the prefix, a bare (unquoted) service name, or `*.*`.
fn check_isolated(statement: &str, prefix: &str) -> Result<(), String> {
    let fail = |why: &str| Err(format!("{why}: {statement:?}"));
    let upper = statement.to_ascii_uppercase();
    let kinds = ["CREATE DATABASE ", "CREATE USER ", "GRANT ", "FLUSH PRIVILEGES"];
    if !kinds.iter().any(|kind| upper.starts_with(kind)) {
        return fail("a kind of statement this test cannot isolate");
    }
    if statement.contains("*.*") {
        return fail("a server-wide grant");
    }
    // Every `identifier` is a prefixed schema.
    if statement.split('`').skip(1).step_by(2).any(|name| !name.starts_with(prefix)) {
        return fail("a schema outside the test's prefix");
    }
    // Every user is 'quoted'@... and prefixed.
    let users: Vec<&str> = statement
        .match_indices("'@")
        .map(|(at, _)| &statement[..at])
        .map(|before| before.rfind('\'').map_or(before, |quote| &before[quote + 1..]))
        .collect();
    if statement.matches('@').count() != users.len() || users.iter().any(|user| !user.starts_with(prefix)) {
        return fail("a user outside the test's prefix (or not in 'quotes')");
    }
    if (upper.starts_with("CREATE USER") || upper.starts_with("GRANT")) && users.is_empty() {
        return fail("no 'quoted'@ user");
    }
    if (upper.starts_with("CREATE DATABASE") || upper.starts_with("GRANT")) && !statement.contains('`') {
        return fail("no `quoted` schema");
    }
    // Outside quotes, no service name may remain (an unquoted identifier).
    let unquoted: String = statement.split(['`', '\'']).step_by(2).collect::<Vec<_>>().join(" ");
    let words: Vec<&str> = unquoted.split(|c: char| !c.is_ascii_alphanumeric() && c != '_').collect();
    if SERVICES.iter().any(|s| words.contains(&s.schema) || words.contains(&s.user)) {
        return fail("an unquoted schema or user name");
    }
    Ok(())
}

/// The rendered init.sql with every name prefixed, each statement checked
/// to touch only prefixed names (a panic before anything runs otherwise).
fn isolated_init_sql(prefix: &str, passwords: &[(&str, &str)]) -> Vec<String> {
    let statements: Vec<String> =
        statements(&rendered_init_sql(passwords)).iter().map(|s| prefixed(s, prefix)).collect();
    for statement in &statements {
        if let Err(why) = check_isolated(statement, prefix) {
            panic!("deploy/mysql/init.sql cannot be applied in isolation, {why}");
        }
    }
    statements
}

/// The settings of each service of docker-compose.yml, `key: value` lines
/// trimmed (a line scan of the `services:` section: a service is a key
/// indented by two spaces).
fn compose_service_lines() -> BTreeMap<String, Vec<String>> {
    let (mut services, mut in_services, mut service) = (BTreeMap::<String, Vec<String>>::new(), false, None);
    for line in repository_file("docker-compose.yml").lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            in_services = line.trim_end() == "services:";
            service = None;
        } else if let Some(key) = line.strip_prefix("  ").and_then(|l| l.trim_end().strip_suffix(':'))
            && !key.starts_with(' ')
        {
            service = in_services.then(|| key.to_owned());
        } else if let Some(service) = &service {
            services.entry(service.clone()).or_default().push(line.trim().to_owned());
        }
    }
    services
}

/// The `MYSQL_URL` of each service of docker-compose.yml.
fn compose_mysql_urls() -> BTreeMap<String, String> {
    let mut urls = BTreeMap::new();
    for (service, lines) in compose_service_lines() {
        if let Some(url) = lines.iter().find_map(|line| line.strip_prefix("MYSQL_URL:")) {
            urls.insert(service, url.trim().trim_matches('"').to_owned());
        }
    }
    urls
}

/// (user, password, host:port) of `mysql://user:password@host:port`.
fn credentials(url: &str) -> (String, String, String) {
    let rest = url.strip_prefix("mysql://").unwrap_or_else(|| panic!("{url:?} is not mysql://"));
    let (userinfo, host) = rest.split_once('@').unwrap_or_else(|| panic!("{url:?} names no user"));
    let (user, password) = userinfo.split_once(':').unwrap_or_else(|| panic!("{url:?} has no password"));
    (user.to_owned(), password.to_owned(), host.trim_end_matches('/').to_owned())
}

/// The variable a compose password is taken from: `VAR` of
/// `${VAR:?message}` (required: compose never falls back to a default).
fn required_variable(password: &str) -> Option<&str> {
    let name = password.strip_prefix("${")?.strip_suffix('}')?.split_once(":?")?.0;
    name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_').then_some(name)
}

/// The variable each service's password comes from in docker-compose.yml.
fn compose_password_variables() -> BTreeMap<String, String> {
    compose_mysql_urls()
        .into_iter()
        .map(|(service, url)| {
            let (_, password, _) = credentials(&url);
            let variable = required_variable(&password).unwrap_or_else(|| {
                panic!("docker-compose.yml: {service}'s MYSQL_URL password is not a required ${{VAR:?...}}: {url:?}")
            });
            (service, variable.to_owned())
        })
        .collect()
}

/// The placeholder of init.sql (the template) for `user`'s password.
fn init_sql_placeholder(user: &str) -> String {
    let create = statements(&repository_file("deploy/mysql/init.sql"))
        .into_iter()
        .find(|s| s.to_ascii_uppercase().starts_with("CREATE USER") && s.contains(&format!("'{user}'@")))
        .unwrap_or_else(|| panic!("init.sql creates no user '{user}'"));
    let after =
        create.split_once("IDENTIFIED BY {{").unwrap_or_else(|| panic!("no password placeholder in {create:?}")).1;
    after.split("}}").next().unwrap_or_default().to_owned()
}

/// The variable of each service's password in docker-compose.yml, in
/// SERVICES' order.
fn password_variables() -> Vec<String> {
    let variables = compose_password_variables();
    SERVICES
        .iter()
        .map(|s| {
            variables.get(s.name).unwrap_or_else(|| panic!("docker-compose.yml: {} has no MYSQL_URL", s.name)).clone()
        })
        .collect()
}

/// A password for each service (SERVICES' order), in the variable compose
/// names: unique to this run and URL-safe.
fn test_passwords(prefix: &str) -> Vec<(String, String)> {
    password_variables()
        .into_iter()
        .zip(SERVICES)
        .map(|(variable, s)| (variable, format!("{prefix}{}_Pw", s.user)))
        .collect()
}

fn as_pairs(variables: &[(String, String)]) -> Vec<(&str, &str)> {
    variables.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
}

#[test]
fn init_sql_is_rewritten_to_prefixed_names_only() {
    let prefix = common::testkit::unique_prefix("initsql");
    let statements = isolated_init_sql(&prefix, &as_pairs(&test_passwords(&prefix)));
    for s in SERVICES {
        let (schema, user) = (format!("`{prefix}{}`", s.schema), format!("'{prefix}{}'@'%'", s.user));
        let has = |kind: &str, names: &[&str]| {
            statements.iter().any(|st| st.starts_with(kind) && names.iter().all(|n| st.contains(n)))
        };
        assert!(has("CREATE DATABASE", &[&schema]), "init.sql creates no schema {}", s.schema);
        assert!(has("CREATE USER", &[&user]), "init.sql creates no user {}", s.user);
        assert!(has("GRANT", &[&format!("{schema}.*"), &user]), "init.sql grants {} nothing on {}", s.user, s.schema);
        // Its only grant is on its own schema.
        let grants: Vec<_> = statements.iter().filter(|st| st.starts_with("GRANT") && st.contains(&user)).collect();
        assert_eq!(grants.len(), 1, "{} has several grants: {grants:?}", s.user);
    }
    // The guard itself: what it must refuse.
    for unsafe_statement in [
        "GRANT ALL PRIVILEGES ON *.* TO 'x'@'%'",
        "DROP DATABASE `identity`",
        "CREATE DATABASE IF NOT EXISTS `identity`",
        "CREATE DATABASE IF NOT EXISTS identity",
        "CREATE USER IF NOT EXISTS identity@'%' IDENTIFIED BY 'pw'",
        "ALTER USER 'root'@'localhost' IDENTIFIED BY 'pw'",
    ] {
        assert!(check_isolated(unsafe_statement, &prefix).is_err(), "accepted {unsafe_statement:?}");
    }
}

#[test]
fn compose_gives_each_service_its_own_db_user() {
    let urls = compose_mysql_urls();
    let variables = compose_password_variables();
    let mariadb = &compose_service_lines()["mariadb"];
    for s in SERVICES {
        let url = urls.get(s.name).unwrap_or_else(|| panic!("docker-compose.yml: {} has no MYSQL_URL", s.name));
        let (user, _, host) = credentials(url);
        assert_eq!(user, s.user, "docker-compose.yml: {} connects as {user}", s.name);
        assert_eq!(host, "mariadb:3306", "docker-compose.yml: {}'s MYSQL_URL", s.name);
        // The user's password in init.sql is the variable of the MYSQL_URL,
        // and the mariadb container (which runs init.sh) is given it.
        let variable = &variables[s.name];
        assert_eq!(&init_sql_placeholder(s.user), variable, "init.sql: {}'s password placeholder", s.user);
        let passed = format!("{variable}: ${{{variable}:?");
        assert!(
            mariadb.iter().any(|line| line.starts_with(&passed)),
            "docker-compose.yml: the mariadb service is not given {variable} (required)"
        );
    }
    let others: Vec<_> = urls.keys().filter(|name| !SERVICES.iter().any(|s| s.name == *name)).collect();
    assert!(others.is_empty(), "docker-compose.yml: MYSQL_URL on services without a schema: {others:?}");
}

#[test]
fn compose_has_mariadb_run_init_sh_on_the_template() {
    let mariadb = &compose_service_lines()["mariadb"];
    let mounted = |volume: &str| mariadb.iter().any(|line| line.strip_prefix("- ") == Some(volume));
    // Sourced from the init directory; the template where init.sh reads it.
    let template = "/etc/marketplace/init.sql";
    assert!(
        mariadb.iter().any(|line| line.starts_with("- ./deploy/mysql/init.sh:/docker-entrypoint-initdb.d/")
            && line.ends_with(".sh:ro")),
        "docker-compose.yml: mariadb does not run deploy/mysql/init.sh from /docker-entrypoint-initdb.d: {mariadb:#?}"
    );
    assert!(
        mounted(&format!("./deploy/mysql/init.sql:{template}:ro")),
        "docker-compose.yml: init.sql not at {template}"
    );
    assert!(repository_file("deploy/mysql/init.sh").contains(&format!("marketplace_render_init_sql {template}")));
    assert!(
        !mariadb.iter().any(|line| line.contains("init.sql:/docker-entrypoint-initdb.d")),
        "docker-compose.yml: the raw template must not run as SQL"
    );
}

#[test]
fn init_sh_refuses_to_render_without_every_password() {
    let prefix = common::testkit::unique_prefix("initsql");
    let passwords = test_passwords(&prefix);
    let all = as_pairs(&passwords);
    for (missing, _) in &all {
        for value in [None, Some("")] {
            let mut variables: Vec<(&str, &str)> = all.iter().filter(|(name, _)| name != missing).copied().collect();
            variables.extend(value.map(|v| (*missing, v)));
            let output = render_init_sql(&variables);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "init.sh rendered with {missing}={value:?}");
            assert!(output.stdout.is_empty(), "init.sh printed SQL without {missing}");
            assert!(stderr.contains(missing), "init.sh's refusal does not name {missing}: {stderr}");
        }
    }
}

/// The text each placeholder of `template` became in `rendered`, in order:
/// the fixed text between placeholders must come out unchanged.
fn substitutions(template: &str, rendered: &str) -> Vec<(String, String)> {
    let (mut fixed, mut names, mut rest) = (Vec::new(), Vec::new(), template);
    while let Some(start) = rest.find("{{") {
        let end = start + rest[start..].find("}}").expect("a placeholder is closed");
        fixed.push(&rest[..start]);
        names.push(&rest[start + 2..end]);
        rest = &rest[end + 2..];
    }
    let (last, rendered) = (rest.trim_end(), rendered.trim_end());
    let mut at = fixed[0].len();
    assert!(rendered.starts_with(fixed[0]), "init.sh changed the text before the first placeholder");
    let mut literals = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let next = fixed.get(i + 1).copied().unwrap_or(last);
        let length = if i + 1 == names.len() {
            assert!(rendered.ends_with(last), "init.sh changed the text after the last placeholder");
            rendered.len() - last.len() - at
        } else {
            rendered[at..].find(next).unwrap_or_else(|| panic!("init.sh changed the text after {name}"))
        };
        literals.push(((*name).to_owned(), rendered[at..at + length].to_owned()));
        at += length + next.len();
    }
    literals
}

#[tokio::test]
async fn init_sh_quotes_any_password() {
    let root_url = common::config::Infra::from_env().expect("configuration").mysql_url;
    let tricky = [
        "it's'; DROP DATABASE mysql; -- ",
        "back\\slash\\' \"double\" `tick` \\",
        "line\nbreak\r\ttab",
        "{{PAYMENT_DB_PASSWORD}}",
        "$HOME $(id) `id` & \\& ${x}",
        "ünïcödé 🔑 %_ @:/?#",
    ];
    let variables: Vec<(String, String)> = password_variables()
        .into_iter()
        .zip(tricky)
        .map(|(variable, password)| (variable, password.to_owned()))
        .collect();
    let rendered = rendered_init_sql(&as_pairs(&variables));
    let literals = substitutions(&repository_file("deploy/mysql/init.sql"), &rendered);
    assert_eq!(literals.len(), variables.len(), "one placeholder per service");
    let mut admin = root(&root_url).await;
    for (name, literal) in literals {
        let password = &variables.iter().find(|(variable, _)| *variable == name).expect("a known variable").1;
        assert!(literal.len() >= 2 && literal.starts_with('\'') && literal.ends_with('\''), "{name}: {literal}");
        // The server reads the literal back as exactly the password.
        let read: String = sqlx::query_scalar(AssertSqlSafe(format!("SELECT {literal}")))
            .fetch_one(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("{name}: SELECT {literal}: {e}"));
        assert_eq!(&read, password, "{name}: rendered as {literal}");
    }
    let _ = admin.close().await;
}

/// The root connection the test's own statements run on.
async fn root(root_url: &str) -> MySqlConnection {
    MySqlConnection::connect(root_url).await.unwrap_or_else(|e| panic!("{}: {e}", common::db::redact_url(root_url)))
}

async fn run(connection: &mut MySqlConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(connection).await.map(drop)
}

/// Panics unless running `sql` as `who` is refused for want of a privilege.
async fn assert_denied(connection: &mut MySqlConnection, who: &str, sql: String) {
    match run(connection, sql.clone()).await {
        Ok(()) => panic!("{who} may run {sql:?}"),
        Err(e) => assert!(
            common::db::error_number(&e).is_some_and(|n| ACCESS_DENIED.contains(&n)),
            "{who}: {sql:?} failed, but not for want of a privilege: {e}"
        ),
    }
}

async fn apply_and_check(root_url: &str, prefix: &str, statements: Vec<String>, passwords: &[(String, String)]) {
    let mut admin = root(root_url).await;
    for statement in statements {
        run(&mut admin, statement.clone()).await.unwrap_or_else(|e| panic!("init.sql: {statement:?}: {e}"));
    }
    let _ = admin.close().await;

    let server = MySqlConnectOptions::from_str(root_url).expect("MYSQL_URL");
    let (host, port) = (server.get_host().to_owned(), server.get_port());
    let as_user: Vec<(&Service, String)> = SERVICES
        .iter()
        .zip(passwords)
        .map(|(s, (_, password))| {
            assert!(
                password.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)),
                "password needs encoding"
            );
            (s, format!("mysql://{prefix}{}:{password}@{host}:{port}", s.user))
        })
        .collect();

    // Its own schema: what the service does at start-up (create the schema
    // if missing, connect, run its real migrations), then rows in and out.
    for (s, url) in &as_user {
        let migrations = PathBuf::from(format!("{}/../{}/migrations", env!("CARGO_MANIFEST_DIR"), s.name));
        let migrator = sqlx::migrate::Migrator::new(migrations).await.expect("migrations");
        let schema = format!("{prefix}{}", s.schema);
        let pool = common::db::connect(url, &schema, 2, &migrator)
            .await
            .unwrap_or_else(|e| panic!("{} cannot start on its own schema: {e}", s.user));
        let mut connection = pool.acquire().await.expect("connection");
        for sql in [
            "CREATE TABLE init_probe (id INT PRIMARY KEY, note VARCHAR(20) NOT NULL)",
            "INSERT INTO init_probe (id, note) VALUES (1, 'written')",
            "UPDATE init_probe SET note = 'rewritten' WHERE id = 1",
        ] {
            sqlx::query(sql).execute(&mut *connection).await.unwrap_or_else(|e| panic!("{}: {sql}: {e}", s.user));
        }
        let note: String = sqlx::query_scalar("SELECT note FROM init_probe WHERE id = 1")
            .fetch_one(&mut *connection)
            .await
            .unwrap_or_else(|e| panic!("{}: reading its row: {e}", s.user));
        assert_eq!(note, "rewritten");
        for sql in ["DELETE FROM init_probe", "DROP TABLE init_probe"] {
            sqlx::query(sql).execute(&mut *connection).await.unwrap_or_else(|e| panic!("{}: {sql}: {e}", s.user));
        }
        drop(connection);
        pool.close().await;
    }

    // Every other schema (each now holds its service's tables), the
    // server's own, and a new one: refused.
    for (s, url) in &as_user {
        let who = format!("{}{}", prefix, s.user);
        let options = MySqlConnectOptions::from_str(url).expect("user URL");
        let mut connection =
            MySqlConnection::connect_with(&options).await.unwrap_or_else(|e| panic!("{who} cannot log in: {e}"));
        let visible: Vec<String> = sqlx::query_scalar("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            .fetch_all(&mut connection)
            .await
            .expect("schemata");
        let mut visible: Vec<&str> = visible.iter().map(String::as_str).collect();
        visible.sort_unstable();
        let own = format!("{prefix}{}", s.schema);
        assert_eq!(visible, ["information_schema", own.as_str()], "the schemas {who} can see");
        assert_denied(&mut connection, &who, "SELECT user FROM mysql.user".into()).await;
        assert_denied(&mut connection, &who, format!("CREATE DATABASE `{prefix}rogue_{}`", s.user)).await;
        for other in SERVICES.iter().filter(|o| o.schema != s.schema) {
            let schema = format!("`{prefix}{}`", other.schema);
            assert_denied(&mut connection, &who, format!("USE {schema}")).await;
            assert_denied(&mut connection, &who, format!("SELECT COUNT(*) FROM {schema}._sqlx_migrations")).await;
            assert_denied(&mut connection, &who, format!("DELETE FROM {schema}._sqlx_migrations")).await;
            assert_denied(&mut connection, &who, format!("CREATE TABLE {schema}.intruder (id INT)")).await;
            assert_denied(&mut connection, &who, format!("DROP DATABASE {schema}")).await;
            let into_other = options.clone().database(&format!("{prefix}{}", other.schema));
            match MySqlConnection::connect_with(&into_other).await {
                Ok(_) => panic!("{who} may connect to {schema}"),
                Err(e) => assert_eq!(common::db::error_number(&e), Some(1044), "{who} connecting to {schema}: {e}"),
            }
        }
        let _ = connection.close().await;
    }
}

/// Drops every user and schema the test may have made, whatever happened.
async fn clean_up(root_url: &str, prefix: &str) -> Result<(), String> {
    assert!(!prefix.is_empty(), "never clean up unprefixed names");
    let mut admin = MySqlConnection::connect(root_url).await.map_err(|e| e.to_string())?;
    let mut failures = Vec::new();
    for s in SERVICES {
        for sql in [
            format!("DROP USER IF EXISTS '{prefix}{}'@'%'", s.user),
            format!("DROP DATABASE IF EXISTS `{prefix}{}`", s.schema),
            format!("DROP DATABASE IF EXISTS `{prefix}rogue_{}`", s.user),
        ] {
            if let Err(e) = run(&mut admin, sql.clone()).await {
                failures.push(format!("{sql}: {e}"));
            }
        }
    }
    let _ = admin.close().await;
    if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
}

#[tokio::test]
async fn each_service_user_reaches_its_own_schema_and_no_other() {
    let root_url = common::config::Infra::from_env().expect("configuration").mysql_url;
    let prefix = common::testkit::unique_prefix("initsql");
    // The passwords compose would hand init.sh, in SERVICES' order.
    let passwords = test_passwords(&prefix);
    // Checked before anything reaches the server.
    let statements = isolated_init_sql(&prefix, &as_pairs(&passwords));
    let outcome = AssertUnwindSafe(apply_and_check(&root_url, &prefix, statements, &passwords)).catch_unwind().await;
    let cleaned = clean_up(&root_url, &prefix).await;
    if let Err(panic) = outcome {
        if let Err(e) = cleaned {
            eprintln!("clean-up failed too: {e}");
        }
        std::panic::resume_unwind(panic);
    }
    cleaned.unwrap_or_else(|e| panic!("clean-up: {e}"));
}
