//! `chinwag` server processes, for tests that kill or stop a node the way
//! an operator or a crash would.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{SECRET, TempDir};

/// A running `chinwag serve`; killed and reaped when dropped.
pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Sends SIGTERM (a graceful stop) and waits for the process to exit.
    pub async fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        for _ in 0..400 {
            if self.child.try_wait().expect("wait").is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the node did not exit within 20 s of SIGTERM");
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts a node on `engine` (its own SQLite file) and waits until it
/// listens.
pub async fn spawn_node(engine: &str, prefix: &str, name: &str) -> Node {
    spawn_node_with(engine, prefix, name, |_| {}).await
}

/// [`spawn_node`], with `tweak` adding arguments or environment.
pub async fn spawn_node_with(
    engine: &str,
    prefix: &str,
    name: &str,
    tweak: impl FnOnce(&mut Command),
) -> Node {
    let addr = free_port();
    let dir = TempDir::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_chinwag"));
    command
        .args(["serve", "--listen", &addr.to_string(), "--engine", engine])
        .args(["--node-name", name, "--data-dir"])
        .arg(&dir.0)
        .env("CHINWAG_AUTH__JWT_SECRET", SECRET)
        .env("CHINWAG_ENGINE_PREFIX", prefix)
        .env("CHINWAG_GATEWAY__RATE_PER_SEC", "100000")
        .env("CHINWAG_GATEWAY__RATE_BURST", "100000")
        .env("CHINWAG_AUTH__ATTEMPTS_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
    tweak(&mut command);
    let child = command.spawn().expect("start chinwag");
    // Owned by `Node` at once, so every exit path kills and reaps it.
    let node = Node {
        child,
        addr,
        _dir: dir,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("node {name} did not start");
}
