//! A small test harness for suites that share one expensive fixture (a
//! running fleet, a service on real MariaDB) across many tests and must
//! clean up after all of them: `harness = false` test binaries call
//! [`run`], which runs every case concurrently on one runtime, prints
//! libtest-style lines, and returns so the caller can drop its schemas.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::FutureExt;

pub type TestFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One named test case over a shared fixture `F`.
pub struct Case<F> {
    pub name: &'static str,
    pub run: fn(Arc<F>) -> TestFuture,
}

/// Lists test cases: `cases![F; test_a, test_b]` for `async fn test_a(f: Arc<F>)`.
#[macro_export]
macro_rules! cases {
    ($fixture:ty; $($name:ident),+ $(,)?) => {
        vec![$($crate::testkit::Case::<$fixture> {
            name: stringify!($name),
            run: |f| Box::pin($name(f)),
        }),+]
    };
}

/// The whole `main` of a service's test binary: a runtime, a unique
/// schema/key prefix, `start` (which brings the services up and builds the
/// fixture), every case, then shutdown and the clean-up of `schemas` —
/// also when start-up failed.
pub fn service_suite<F, S, Fut>(
    tag: &str,
    schemas: &[&str],
    start: S,
    cases: Vec<Case<F>>,
    parallel: usize,
) -> std::process::ExitCode
where
    F: Send + Sync + 'static,
    S: FnOnce(crate::config::Infra, crate::shutdown::CancellationToken) -> Fut,
    Fut: Future<Output = Result<F, crate::StartupError>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let mut infra = match crate::config::Infra::from_env() {
            Ok(infra) => infra,
            Err(e) => {
                eprintln!("configuration: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        infra.schema_prefix = unique_prefix(tag);
        let stop = crate::shutdown::CancellationToken::new();
        let passed = match start(infra.clone(), stop.clone()).await {
            Ok(fixture) => run(Arc::new(fixture), cases, parallel).await,
            Err(e) => {
                eprintln!("services did not start: {e}");
                false
            }
        };
        stop.cancel();
        if let Err(e) = drop_test_data(&infra, schemas).await {
            eprintln!("clean-up failed: {e}");
        }
        if passed { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
    })
}

/// Drops a test run's schemas and deletes its Redis keys (never with an
/// empty prefix, which would be real data).
pub async fn drop_test_data(infra: &crate::config::Infra, schemas: &[&str]) -> Result<(), crate::StartupError> {
    if infra.schema_prefix.is_empty() {
        return Err(crate::StartupError::Config("refusing to drop unprefixed schemas".into()));
    }
    for schema in schemas {
        crate::db::drop_schema(&infra.mysql_url, &infra.schema(schema)).await?;
    }
    let mut redis = infra.redis().await?;
    crate::redis_conn::delete_prefixed(&mut redis, &infra.schema_prefix)
        .await
        .map_err(|e| crate::StartupError::Database(format!("redis clean-up: {e}")))
}

/// The address of a listener on loopback that accepts TCP connections and
/// never answers on them: a hung or frozen (SIGSTOP) server, whose kernel
/// still completes the handshake.
pub async fn silent_listener() -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(addr)
}

/// A unique prefix for schemas and Redis keys of one test run.
pub fn unique_prefix(tag: &str) -> String {
    format!("t{}_{tag}_", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Runs the cases whose name contains the first command-line filter (all
/// when none), at most `parallel` at a time. Returns true when all passed.
pub async fn run<F: Send + Sync + 'static>(fixture: Arc<F>, cases: Vec<Case<F>>, parallel: usize) -> bool {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let selected: Vec<_> = cases.into_iter().filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f))).collect();
    println!("\nrunning {} tests", selected.len());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let handles: Vec<_> = selected
        .into_iter()
        .map(|case| {
            let fixture = fixture.clone();
            let semaphore = semaphore.clone();
            let handle = tokio::spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                std::panic::AssertUnwindSafe((case.run)(fixture)).catch_unwind().await
            });
            (case.name, handle)
        })
        .collect();
    let (mut passed, mut failed) = (0, Vec::new());
    for (name, handle) in handles {
        match handle.await {
            Ok(Ok(())) => {
                passed += 1;
                println!("test {name} ... ok");
            }
            _ => {
                failed.push(name);
                println!("test {name} ... FAILED");
            }
        }
    }
    if !failed.is_empty() {
        println!("\nfailures:");
        for name in &failed {
            println!("    {name}");
        }
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {} failed; 0 ignored; 0 measured; 0 filtered out\n",
        failed.len()
    );
    failed.is_empty()
}
