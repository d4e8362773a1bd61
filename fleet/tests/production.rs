//! The production profile, on the real `fleet` binary as a process:
//! `MARKETPLACE_ENV=production` refuses to start with a development secret,
//! a database login without a password or a missing setting, in one line
//! naming the variable (never its value); with proper settings it serves,
//! and the sandbox's "complete" route does not exist.
//!
//! Needs the binary: `cargo build --workspace --bins` (make test does it).
use std::process::Stdio;
use std::time::Duration;

use common::config::Infra;
use fleet::cluster::{binary_dir, free_port};
use sqlx::{AssertSqlSafe, Connection};
use tokio::process::Command;

/// A production fleet's settings, every one of them proper.
fn proper_settings(mysql_url: &str, prefix: &str, port: u16) -> Vec<(String, String)> {
    let mut settings = vec![
        ("MARKETPLACE_ENV", "production".to_owned()),
        ("MYSQL_URL", mysql_url.to_owned()),
        ("SCHEMA_PREFIX", prefix.to_owned()),
        ("PUBLIC_URL", "https://shop.example.com".to_owned()),
        ("PAYMENT_PROVIDER", "stripe".to_owned()),
        ("STRIPE_SECRET_KEY", format!("sk_test_{}", uuid::Uuid::new_v4().simple())),
        ("WEBHOOK_SECRET", format!("whsec_{}", uuid::Uuid::new_v4().simple())),
        ("PORT", port.to_string()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect::<Vec<_>>();
    for service in ["IDENTITY", "CATALOG", "CART", "ORDER", "PAYMENT", "ANALYTICS"] {
        settings.push((format!("{service}_GRPC_ADDR"), "127.0.0.1:0".to_owned()));
    }
    settings
}

fn fleet(settings: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(binary_dir().expect("binary folder").join("fleet"));
    command.args(args);
    for variable in ["ADMIN_EMAIL", "ADMIN_PASSWORD", "JWT_PRIVATE_KEY_PEM", "TRUSTED_PROXIES", "REDIS_URL"] {
        command.env_remove(variable);
    }
    command.envs(settings.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// Runs the fleet expecting it to refuse; returns its standard error.
async fn refusal(settings: &[(String, String)], args: &[&str]) -> String {
    let run = fleet(settings, args).stdout(Stdio::null()).stderr(Stdio::piped()).output();
    let output = tokio::time::timeout(Duration::from_secs(60), run).await.expect("exits").expect("ran");
    assert!(!output.status.success(), "started anyway");
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

fn with(settings: &[(String, String)], name: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut changed: Vec<_> = settings.iter().filter(|(k, _)| k != name).cloned().collect();
    if let Some(value) = value {
        changed.push((name.to_owned(), value.to_owned()));
    }
    changed
}

#[tokio::test]
async fn production_refuses_development_settings_in_one_line_naming_the_variable() {
    let proper = proper_settings(
        "mysql://shop:Str0ng-and-unpublished@127.0.0.1:3306",
        "tprod_refused_",
        free_port().expect("port"),
    );
    let cases = [
        (with(&proper, "WEBHOOK_SECRET", Some("whsec_dev_only")), "WEBHOOK_SECRET", "whsec_dev_only"),
        (with(&proper, "WEBHOOK_SECRET", None), "WEBHOOK_SECRET", "whsec_dev_only"),
        (with(&proper, "MYSQL_URL", Some("mysql://root@127.0.0.1:3306")), "MYSQL_URL", "root@"),
        (with(&proper, "MYSQL_URL", Some("mysql://payment:payment_dev_only@db:3306")), "MYSQL_URL", "payment_dev_only"),
        (with(&proper, "PUBLIC_URL", None), "PUBLIC_URL", "shop.example.com"),
        (with(&proper, "PAYMENT_PROVIDER", None), "PAYMENT_PROVIDER", "sandbox"),
        (
            with(&with(&proper, "ADMIN_EMAIL", Some("admin@example.com")), "ADMIN_PASSWORD", Some("Demo-Pass-2026")),
            "ADMIN_PASSWORD",
            "Demo-Pass-2026",
        ),
    ];
    for (settings, variable, secret) in cases {
        let stderr = refusal(&settings, &[]).await;
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(variable), "{variable} not named: {stderr}");
        assert!(!stderr.contains(secret), "the value leaked: {stderr}");
    }
    let demo = refusal(&proper, &["--demo"]).await;
    assert!(demo.lines().count() == 1 && demo.contains("--demo"), "{demo}");
}

/// A database login of the test's own with a real password, on schemas
/// under `prefix` only.
async fn database_user(root_url: &str, prefix: &str) -> (String, String) {
    let (user, password) = (format!("{prefix}u"), uuid::Uuid::new_v4().simple().to_string());
    let mut root = sqlx::MySqlConnection::connect(root_url).await.expect("root");
    for sql in [
        format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"),
        format!("GRANT ALL PRIVILEGES ON `{prefix}%`.* TO '{user}'@'%'"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut root).await.expect("user");
    }
    let host = root_url.split_once('@').map_or("127.0.0.1:3306", |(_, host)| host);
    (user.clone(), format!("mysql://{user}:{password}@{host}"))
}

#[tokio::test]
async fn production_with_proper_settings_serves_without_the_sandbox() {
    let infra = Infra::from_env().expect("infra");
    let prefix = common::testkit::unique_prefix("prod");
    let (user, url) = database_user(&infra.mysql_url, &prefix).await;
    let port = free_port().expect("port");
    let mut child = fleet(&proper_settings(&url, &prefix, port), &[]).stdout(Stdio::null()).spawn().expect("started");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..300 {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            healthy = true;
            break;
        }
        assert!(child.try_wait().expect("status").is_none(), "the production fleet exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sandbox = async {
        assert!(healthy, "never ready");
        let response = http
            .post(format!("{base}/payments/1/sandbox/complete/"))
            .json(&serde_json::json!({"outcome": "succeeded"}))
            .send()
            .await
            .expect("sent");
        let status = response.status();
        (status, response.json::<serde_json::Value>().await.expect("json"))
    }
    .await;
    child.kill().await.expect("killed");
    let mut scoped = infra.clone();
    scoped.schema_prefix = prefix;
    common::testkit::drop_test_data(&scoped, fleet::SCHEMAS).await.expect("clean-up");
    let mut root = sqlx::MySqlConnection::connect(&infra.mysql_url).await.expect("root");
    sqlx::raw_sql(AssertSqlSafe(format!("DROP USER '{user}'@'%'"))).execute(&mut root).await.expect("drop user");
    assert_eq!(sandbox, (reqwest::StatusCode::NOT_FOUND, serde_json::json!({"detail": "Not found."})));
}

/// The gateway alone has no database: production asks it for no
/// `MYSQL_URL`, but still for a real `PUBLIC_URL`.
#[tokio::test]
async fn a_production_gateway_needs_no_database_but_a_real_public_url() {
    let port = free_port().expect("port");
    let gateway = |public_url: &str| {
        let mut command = Command::new(binary_dir().expect("binary folder").join("gateway"));
        command
            .env_remove("MYSQL_URL")
            .env_remove("REDIS_URL")
            .env("MARKETPLACE_ENV", "production")
            .env("PUBLIC_URL", public_url)
            .env("PAYMENT_PROVIDER", "stripe")
            .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    };
    let placeholder = gateway("https://CHANGE-ME.example.com").stdout(Stdio::null()).stderr(Stdio::piped()).output();
    let output = tokio::time::timeout(Duration::from_secs(60), placeholder).await.expect("exits").expect("ran");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("PUBLIC_URL"));

    let mut child = gateway("https://shop.example.com").stdout(Stdio::null()).spawn().expect("started");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut status = None;
    for _ in 0..150 {
        if let Ok(response) = http.get(format!("{base}/healthz")).send().await {
            status = Some(response.status());
            break;
        }
        assert!(child.try_wait().expect("status").is_none(), "the production gateway exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let sandbox = http.post(format!("{base}/payments/1/sandbox/complete/")).send().await.expect("sent").status();
    child.kill().await.expect("killed");
    assert_eq!(status, Some(reqwest::StatusCode::OK));
    assert_eq!(sandbox, reqwest::StatusCode::NOT_FOUND);
}
