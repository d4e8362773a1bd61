//! The marketplace as separate OS processes on loopback, the shape it has
//! in production: every service its own binary, two replicas each of
//! catalog, cart and order on their own ports, the gateway in front, each
//! client balancing over the replicas it is given. `make cluster` runs it
//! (`fleet cluster`), and the fault tests drive it: a process can be
//! killed (`SIGKILL`, no goodbye) and started again on the same address.
//!
//! The service binaries are looked up beside the running executable
//! (`target/<profile>/`), so build them first: `cargo build --workspace --bins`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::StartupError;
use common::config::Infra;
use tokio::process::{Child, Command};

/// Where `make cluster` hands out gRPC and metrics ports from by default
/// (`CLUSTER_FIRST_PORT`): below the kernel's ephemeral range (32768 up on
/// Linux), so no outgoing connection holds a port a process restarts on.
pub const LOCAL_FIRST_PORT: u16 = 20_100;
/// Services with more than one replica in the cluster.
pub const REPLICATED: &[&str] = &["catalog", "cart", "order"];
const START_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How to lay the cluster out.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub infra: Infra,
    /// Where the service binaries are.
    pub bin_dir: PathBuf,
    /// One `<process>.log` per process.
    pub log_dir: PathBuf,
    /// The gateway's REST port on 127.0.0.1.
    pub http_port: u16,
    /// gRPC and metrics ports are handed out from here up, skipping any
    /// that something already listens on.
    next_port: u16,
    /// Replicas of each service in [`REPLICATED`].
    pub replicas: usize,
    /// Extra environment for every process (wins over the defaults).
    pub env: BTreeMap<String, String>,
}

impl ClusterConfig {
    /// `make cluster`: REST on `http_port`, gRPC and metrics ports from
    /// `first_port` up, binaries beside this executable.
    pub fn local(infra: Infra, http_port: u16, first_port: u16) -> Result<Self, StartupError> {
        let bin_dir = binary_dir()?;
        Ok(Self {
            log_dir: bin_dir.join("cluster-logs"),
            bin_dir,
            infra,
            http_port,
            next_port: first_port,
            replicas: 2,
            env: BTreeMap::new(),
        })
    }

    /// For tests: ports from a random place in 20000–31999 and a log
    /// folder of the test's own. Below the kernel's ephemeral range
    /// (32768 up), so no outgoing connection takes a port between the
    /// moment it is chosen and the moment its process binds it.
    pub fn for_tests(infra: Infra) -> Result<Self, StartupError> {
        let bin_dir = binary_dir()?;
        let log_dir = std::env::temp_dir().join(format!("marketplace-cluster-{}", infra.schema_prefix));
        let random = uuid::Uuid::new_v4().as_u128();
        let mut config = Self {
            bin_dir,
            log_dir,
            infra,
            http_port: 0,
            next_port: 20_000 + (random % 11_900) as u16,
            replicas: 2,
            env: BTreeMap::new(),
        };
        config.http_port = config.next_port()?;
        Ok(config)
    }

    fn next_port(&mut self) -> Result<u16, StartupError> {
        loop {
            let port = self.next_port;
            self.next_port = port.checked_add(1).ok_or_else(|| StartupError::Config("ran out of ports".into()))?;
            if port != self.http_port && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
}

/// The folder of the running executable, or its parent when that is
/// cargo's `deps/` (test binaries live there, service binaries above it).
pub fn binary_dir() -> Result<PathBuf, StartupError> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().ok_or_else(|| StartupError::Config("executable has no folder".into()))?;
    Ok(if dir.ends_with("deps") { dir.parent().unwrap_or(dir).to_path_buf() } else { dir.to_path_buf() })
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, StartupError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One OS process of the cluster.
pub struct Process {
    /// `identity`, `catalog-1`, `catalog-2`, …, `gateway`.
    pub name: String,
    /// The binary: the service's name.
    pub service: &'static str,
    /// Its gRPC address (the gateway: its REST address).
    pub addr: String,
    /// Its own Prometheus `/metrics`.
    pub metrics_addr: String,
    env: BTreeMap<String, String>,
    binary: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    fn spawn(&mut self) -> Result<(), StartupError> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.binary)
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StartupError::Config(format!("cannot start {}: {e}", self.binary.display())))?;
        self.child = Some(child);
        Ok(())
    }

    /// Waits until the process answers its health check (gRPC health, or
    /// the gateway's `/readyz`), failing early if it exits.
    async fn wait_healthy(&mut self) -> Result<(), StartupError> {
        let started = Instant::now();
        loop {
            let healthy = if self.service == "gateway" {
                common::probe::http_ok(&self.addr, "/readyz").await
            } else {
                // By its own name: a port that another server took would
                // answer a nameless probe too.
                common::probe::grpc_service_serving(&self.addr, grpc_name(self.service)).await
            };
            if healthy.is_ok() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(StartupError::Serve(format!(
                    "{} exited ({status}); see {}:\n{}",
                    self.name,
                    self.log.display(),
                    log_tail(&self.log)
                )));
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(StartupError::Serve(format!("{} not healthy after {START_TIMEOUT:?}", self.name)));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `SIGKILL`: the process gets no chance to drain or say goodbye.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    async fn signal(&self, signal: &str) -> Result<(), StartupError> {
        let pid = self.pid().ok_or_else(|| StartupError::Config(format!("{} is not running", self.name)))?;
        let status = Command::new("kill").args([signal, &pid.to_string()]).status().await?;
        if status.success() { Ok(()) } else { Err(StartupError::Config(format!("kill {signal} {pid} failed"))) }
    }

    /// `SIGTERM`, then `SIGKILL` if it has not exited within the timeout.
    async fn terminate(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill").args(["-CONT", &pid.to_string()]).status().await;
            let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        }
        if tokio::time::timeout(STOP_TIMEOUT, child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

/// The fully-qualified gRPC name each service reports in health.
fn grpc_name(service: &str) -> &'static str {
    match service {
        "identity" => identity::GRPC_NAME,
        "catalog" => catalog::GRPC_NAME,
        "cart" => cart::GRPC_NAME,
        "order" => order::GRPC_NAME,
        "payment" => payment::GRPC_NAME,
        _ => analytics::GRPC_NAME,
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Every process of a running cluster.
pub struct Cluster {
    pub gateway_url: String,
    processes: Vec<Process>,
}

impl Cluster {
    /// Starts every service (replicas at once; migrations lock), waits for
    /// them to be healthy, then the gateway.
    pub async fn start(mut config: ClusterConfig) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&config.log_dir)?;
        let mut processes = Vec::new();
        let services: [&'static str; 6] = ["identity", "catalog", "cart", "order", "payment", "analytics"];
        for service in services {
            let count = if REPLICATED.contains(&service) { config.replicas.max(1) } else { 1 };
            for replica in 1..=count {
                let name = if count > 1 { format!("{service}-{replica}") } else { service.to_owned() };
                let addr = format!("127.0.0.1:{}", config.next_port()?);
                processes.push(Process::planned(&mut config, service, name, addr)?);
            }
        }
        let gateway_addr = format!("127.0.0.1:{}", config.http_port);
        processes.push(Process::planned(&mut config, "gateway", "gateway".to_owned(), gateway_addr.clone())?);

        let addresses = |service: &str| {
            processes.iter().filter(|p| p.service == service).map(|p| p.addr.clone()).collect::<Vec<_>>().join(",")
        };
        let mut shared = BTreeMap::from([
            ("MYSQL_URL".to_owned(), config.infra.mysql_url.clone()),
            ("REDIS_URL".to_owned(), config.infra.redis_url.clone()),
            ("SCHEMA_PREFIX".to_owned(), config.infra.schema_prefix.clone()),
            ("SHUTDOWN_GRACE_MS".to_owned(), "300".to_owned()),
            ("WEBHOOK_SECRET".to_owned(), crate::DEV_WEBHOOK_SECRET.to_owned()),
            ("PAYMENT_WEBHOOK_URL".to_owned(), format!("http://{gateway_addr}/payments/webhook/")),
        ]);
        for service in services {
            shared.insert(format!("{}_ADDR", service.to_uppercase()), addresses(service));
        }
        for process in &mut processes {
            let mut env = shared.clone();
            let listen = if process.service == "gateway" { "HTTP_ADDR" } else { "GRPC_ADDR" };
            env.insert(listen.to_owned(), process.addr.clone());
            env.insert("METRICS_ADDR".to_owned(), process.metrics_addr.clone());
            env.extend(config.env.clone());
            process.env = env;
        }

        let mut cluster = Self { gateway_url: format!("http://{gateway_addr}"), processes };
        let started = cluster.start_all().await;
        if let Err(error) = started {
            cluster.stop().await;
            return Err(error);
        }
        Ok(cluster)
    }

    async fn start_all(&mut self) -> Result<(), StartupError> {
        let (gateway, services): (Vec<&mut Process>, Vec<&mut Process>) =
            self.processes.iter_mut().partition(|p| p.service == "gateway");
        let mut services = services;
        for process in services.iter_mut() {
            process.spawn()?;
        }
        futures::future::try_join_all(services.into_iter().map(Process::wait_healthy)).await?;
        for process in gateway {
            process.spawn()?;
            process.wait_healthy().await?;
        }
        Ok(())
    }

    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    pub fn process(&self, name: &str) -> Option<&Process> {
        self.processes.iter().find(|p| p.name == name)
    }

    fn process_mut(&mut self, name: &str) -> Result<&mut Process, StartupError> {
        self.processes
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| StartupError::Config(format!("no process {name:?} in the cluster")))
    }

    /// `kill -9` one process.
    pub async fn kill(&mut self, name: &str) -> Result<(), StartupError> {
        self.process_mut(name)?.kill().await;
        Ok(())
    }

    /// Stops one process gracefully: `SIGTERM` (health says NOT_SERVING,
    /// it drains and exits), `SIGKILL` only past the timeout.
    pub async fn terminate(&mut self, name: &str) -> Result<(), StartupError> {
        self.process_mut(name)?.terminate().await;
        Ok(())
    }

    /// Freezes one process (`SIGSTOP`): its sockets stay open and its
    /// kernel still accepts connections, but nothing answers.
    pub async fn freeze(&mut self, name: &str) -> Result<(), StartupError> {
        self.process_mut(name)?.signal("-STOP").await
    }

    /// Lets a frozen process run again (`SIGCONT`).
    pub async fn thaw(&mut self, name: &str) -> Result<(), StartupError> {
        self.process_mut(name)?.signal("-CONT").await
    }

    /// Starts a stopped process again with the same address and settings,
    /// and waits until it is healthy.
    pub async fn restart(&mut self, name: &str) -> Result<(), StartupError> {
        let process = self.process_mut(name)?;
        process.kill().await;
        process.spawn()?;
        process.wait_healthy().await
    }

    /// Stops everything: the gateway first, then the services, each with
    /// `SIGTERM` (drain) and `SIGKILL` past the timeout.
    pub async fn stop(&mut self) {
        for process in self.processes.iter_mut().rev() {
            process.terminate().await;
        }
    }
}

impl Process {
    fn planned(
        config: &mut ClusterConfig,
        service: &'static str,
        name: String,
        addr: String,
    ) -> Result<Self, StartupError> {
        let binary = config.bin_dir.join(service);
        if !binary.is_file() {
            return Err(StartupError::Config(format!(
                "{} is missing: build the service binaries first (cargo build --workspace --bins)",
                binary.display()
            )));
        }
        let metrics_addr = format!("127.0.0.1:{}", config.next_port()?);
        Ok(Self {
            log: config.log_dir.join(format!("{name}.log")),
            name,
            service,
            addr,
            metrics_addr,
            env: BTreeMap::new(),
            binary,
            child: None,
        })
    }
}
