//! A TCP link to a real service that a test can break: hold every reply
//! (the peer did the work, its answer never comes back) or cut the link
//! (the peer is gone). Traffic stays on 127.0.0.1.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Default)]
struct Faults {
    holding: AtomicBool,
    cut: AtomicBool,
    changed: Notify,
}

pub struct StallingLink {
    pub addr: String,
    faults: Arc<Faults>,
}

impl StallingLink {
    /// Listens on a free loopback port and relays each connection to `target`.
    pub async fn to(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let faults = Arc::new(Faults::default());
        let shared = faults.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.cut.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is reset
                }
                let Ok(server) = TcpStream::connect(&target).await else { continue };
                tokio::spawn(relay(client, server, shared.clone()));
            }
        });
        Self { addr, faults }
    }

    /// Requests still reach the service; its replies wait until `release`.
    pub fn hold_replies(&self) {
        self.faults.holding.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.faults.holding.store(false, Ordering::SeqCst);
        self.faults.changed.notify_waiters();
    }

    /// Every connection is dropped and new ones are refused until `restore`.
    pub fn cut(&self) {
        self.faults.cut.store(true, Ordering::SeqCst);
        self.faults.changed.notify_waiters();
    }

    pub fn restore(&self) {
        self.faults.cut.store(false, Ordering::SeqCst);
    }
}

async fn relay(client: TcpStream, server: TcpStream, faults: Arc<Faults>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = tokio::select! {
                read = client_read.read(&mut buffer) => read,
                _ = cut(&faults) => return,
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(n) if server_write.write_all(&buffer[..n]).await.is_err() => return,
                Ok(_) => {}
            }
        }
    };
    let down = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = tokio::select! {
                read = server_read.read(&mut buffer) => read,
                _ = cut(&faults) => return,
            };
            let n = match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            while faults.holding.load(Ordering::SeqCst) {
                let changed = faults.changed.notified();
                if !faults.holding.load(Ordering::SeqCst) {
                    break;
                }
                tokio::select! {
                    _ = changed => {}
                    _ = cut(&faults) => return,
                }
            }
            if client_write.write_all(&buffer[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(up, down);
}

/// Resolves once the link is cut.
async fn cut(faults: &Faults) {
    loop {
        let changed = faults.changed.notified();
        if faults.cut.load(Ordering::SeqCst) {
            return;
        }
        changed.await;
    }
}
