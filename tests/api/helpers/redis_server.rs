//! The throwaway `redis-server`s the tests run against, never the machine's
//! own Redis on 6379: one shared by the whole binary, and private ones that
//! fault tests stop, restart and freeze.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A `redis-server` this test binary started on a free port. A shell
/// watchdog kills it when the test process exits, however it exits.
pub struct TestRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working directory: log, pid file and (when persistent) the
    /// append-only file.
    dir: PathBuf,
    /// The watchdog shell.
    child: Option<Child>,
    /// Whether it keeps its data on disk (an append-only file synced on
    /// every write), so that it survives [`TestRedis::stop`].
    persistent: bool,
    /// The port of the server it replicates, if it is a replica.
    replica_of: Option<u16>,
}

/// A port nothing listens on right now (the OS picks it; another process
/// could take it before Redis binds, which is rare enough for tests).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Whether a Redis on `port` answers PING. Spoken in raw RESP over a plain
/// socket with short timeouts, so that a frozen server reads as "no" at once
/// instead of hanging the caller.
fn redis_answers(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

impl TestRedis {
    /// Starts a new server on a free port.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a new server on a free port that keeps its data across
    /// [`TestRedis::stop`] and [`TestRedis::resume`] (`--appendonly yes
    /// --appendfsync always`), like a production Redis restarting.
    pub fn start_persistent() -> Self {
        Self::start_with(true)
    }

    /// Starts a replica of `primary` on a free port.
    pub fn start_replica_of(primary: &TestRedis) -> Self {
        Self::start_as(false, Some(primary.port))
    }

    fn start_with(persistent: bool) -> Self {
        Self::start_as(persistent, None)
    }

    fn start_as(persistent: bool, replica_of: Option<u16>) -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("confab-test-redis-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut redis = Self {
            port,
            dir,
            child: None,
            persistent,
            replica_of,
        };
        redis.resume();
        redis
    }

    /// (Re)starts the server on its port, waiting until it answers.
    ///
    /// The server runs under a small shell loop rather than as our direct
    /// child: the loop kills it once this test process is gone, so a test
    /// run that panics or is killed leaves no redis-server behind.
    pub fn resume(&mut self) {
        if let Some(mut old) = self.child.take() {
            let _ = old.wait();
        }
        let persistence = if self.persistent {
            "--appendonly yes --appendfsync always"
        } else {
            "--appendonly no"
        };
        let replica = self
            .replica_of
            .map(|port| format!("--replicaof 127.0.0.1 {port}"))
            .unwrap_or_default();
        let script = format!(
            "redis-server --port {port} --bind 127.0.0.1 --save '' {persistence} {replica} \
             --dir '{dir}' --logfile '{dir}/redis.log' --pidfile '{dir}/redis.pid' & pid=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 0.5; done; \
             kill $pid 2>/dev/null",
            port = self.port,
            dir = self.dir.display(),
            parent = std::process::id(),
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !redis_answers(self.port) {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (its data is lost, like a crash without persistence).
    pub fn stop(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis_answers(self.port) {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the server: a Redis that
    /// accepts connections but never answers.
    pub fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.dir.join("redis.pid")).expect("redis pid file");
        let status = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// `redis://` URL of this server.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The Redis shared by every test in this binary (each test has its own key
/// prefix). Started on first use; a static is never dropped, so the watchdog
/// stops it when the binary exits.
pub fn shared_redis() -> &'static TestRedis {
    static REDIS: OnceLock<TestRedis> = OnceLock::new();
    REDIS.get_or_init(TestRedis::start)
}
