//! A Redis server of a test's own on a free loopback port (never the
//! machine's shared one), which the test may kill and start again: the
//! fault suites take Redis away from a running marketplace with it.
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::StartupError;

pub struct LocalRedis {
    pub port: u16,
    /// The append-only file's folder, when the server keeps one.
    dir: Option<PathBuf>,
    child: Option<Child>,
}

impl LocalRedis {
    /// A server that keeps nothing: started again, it is empty.
    pub fn ephemeral() -> Result<Self, StartupError> {
        Self::launch(None)
    }

    /// A server with an append-only file in `dir` synced on every write, as
    /// a Redis that carries event streams must run: killed and started
    /// again, it comes back with its streams and consumer groups.
    pub fn durable(dir: PathBuf) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&dir)?;
        Self::launch(Some(dir))
    }

    fn launch(dir: Option<PathBuf>) -> Result<Self, StartupError> {
        let mut redis = Self { port: crate::cluster::free_port()?, dir, child: None };
        redis.start()?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Starts the server (again) on its port and waits until it accepts
    /// connections.
    pub fn start(&mut self) -> Result<(), StartupError> {
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
        match &self.dir {
            Some(dir) => command.args(["--appendonly", "yes", "--appendfsync", "always"]).arg("--dir").arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| StartupError::Config(format!("cannot start redis-server: {e}")))?;
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.kill();
        Err(StartupError::Serve(format!("redis-server did not start on port {}", self.port)))
    }

    /// `SIGKILL`: whatever it had not written to its file is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
