//! The test harness of suites that share one expensive fixture (a running
//! fleet, a service on real MariaDB) across many cases and must clean up
//! after all of them: `harness = false` test binaries call [`suite`] (or
//! [`service_suite`]). It speaks libtest's command line through
//! `libtest-mimic`, so `cargo test NAME --exact`, `--list`, `--skip` and
//! `cargo nextest run` work; the fixture starts only when a selected case
//! runs (never to list), every case has a timeout, and the clean-up runs
//! whatever happened.
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use libtest_mimic::{Arguments, Failed, Trial};

pub mod accounts;

pub type TestFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How long one case may run unless its suite says otherwise.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(180);

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

/// How a suite runs: at most `parallel` cases at once (unless
/// `--test-threads` says), each for at most `case_timeout`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub parallel: usize,
    pub case_timeout: Duration,
}

impl Pace {
    pub fn parallel(parallel: usize) -> Self {
        Self { parallel, case_timeout: CASE_TIMEOUT }
    }
}

/// The fixture, started by the first case that runs; the start's
/// resources wait there for `finish`.
struct Started<F, R> {
    fixture: Option<Result<Arc<F>, String>>,
    resources: Option<R>,
}

/// A suite's whole `main`: parses libtest's arguments, runs the selected
/// `cases` on one runtime over the fixture `start` makes (once, when the
/// first of them runs; `Err` fails every case with its message), then
/// `finish` with what `start` left (None when it never ran or failed) and
/// whether every case passed.
pub fn suite<F, R, S, SFut, E, EFut>(cases: Vec<Case<F>>, pace: Pace, start: S, finish: E) -> ExitCode
where
    F: Send + Sync + 'static,
    R: Send + 'static,
    S: FnOnce() -> SFut + Send + 'static,
    SFut: Future<Output = Result<(F, R), String>>,
    E: FnOnce(Option<R>, bool) -> EFut,
    EFut: Future<Output = ()>,
{
    let mut args = Arguments::from_args();
    args.test_threads = args.test_threads.or(Some(pace.parallel.max(1)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = Arc::new(Mutex::new(Some(start)));
    let started: Arc<tokio::sync::Mutex<Started<F, R>>> =
        Arc::new(tokio::sync::Mutex::new(Started { fixture: None, resources: None }));
    let trials = cases
        .into_iter()
        .map(|case| {
            let (handle, start, started) = (runtime.handle().clone(), start.clone(), started.clone());
            Trial::test(case.name, move || {
                let fixture = handle.block_on(fixture_of(&start, &started))?;
                let run = AssertUnwindSafe((case.run)(fixture)).catch_unwind();
                // The timer is made inside the runtime: `timeout` needs its clock.
                match handle.block_on(async { tokio::time::timeout(pace.case_timeout, run).await }) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(panic)) => Err(Failed::from(panic_message(panic.as_ref()))),
                    Err(_) => Err(Failed::from(format!("timed out after {:?}", pace.case_timeout))),
                }
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let resources = runtime.block_on(async { started.lock().await.resources.take() });
    runtime.block_on(finish(resources, !conclusion.has_failed()));
    conclusion.exit_code()
}

/// The fixture, started by whichever case asks first.
async fn fixture_of<F, R, S, SFut>(
    start: &Mutex<Option<S>>,
    started: &tokio::sync::Mutex<Started<F, R>>,
) -> Result<Arc<F>, Failed>
where
    S: FnOnce() -> SFut,
    SFut: Future<Output = Result<(F, R), String>>,
{
    let mut started = started.lock().await;
    if started.fixture.is_none() {
        let start = start.lock().unwrap_or_else(|p| p.into_inner()).take();
        let made = match start {
            Some(start) => start().await,
            None => Err("the fixture's start-up ran already".to_owned()),
        };
        started.fixture = Some(match made {
            Ok((fixture, resources)) => {
                started.resources = Some(resources);
                Ok(Arc::new(fixture))
            }
            Err(e) => Err(format!("the suite did not start: {e}")),
        });
    }
    match &started.fixture {
        Some(Ok(fixture)) => Ok(fixture.clone()),
        Some(Err(e)) => Err(Failed::from(e.as_str())),
        None => Err(Failed::from("no fixture")),
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".to_owned())
}

/// The `main` of a service's test binary: a unique schema/key prefix,
/// `start` (which brings the services up and builds the fixture, stopped
/// by the token afterwards), the cases, and the clean-up of `schemas`.
pub fn service_suite<F, S, Fut>(
    tag: &str,
    schemas: &'static [&'static str],
    start: S,
    cases: Vec<Case<F>>,
    parallel: usize,
) -> ExitCode
where
    F: Send + Sync + 'static,
    S: FnOnce(crate::config::Infra, crate::shutdown::CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = Result<F, crate::StartupError>>,
{
    let tag = tag.to_owned();
    let begin = move || async move {
        let mut infra = crate::config::Infra::from_env().map_err(|e| format!("configuration: {e}"))?;
        infra.schema_prefix = unique_prefix(&tag);
        let stop = crate::shutdown::CancellationToken::new();
        match start(infra.clone(), stop.clone()).await {
            Ok(fixture) => Ok((fixture, (infra, stop))),
            Err(e) => {
                stop.cancel();
                let _ = drop_test_data(&infra, schemas).await;
                Err(format!("services did not start: {e}"))
            }
        }
    };
    let end = move |resources: Option<(crate::config::Infra, crate::shutdown::CancellationToken)>, _passed| async move {
        if let Some((infra, stop)) = resources {
            stop.cancel();
            if let Err(e) = drop_test_data(&infra, schemas).await {
                eprintln!("clean-up failed: {e}");
            }
        }
    };
    suite(cases, Pace::parallel(parallel), begin, end)
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
