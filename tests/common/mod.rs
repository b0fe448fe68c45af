//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cprog;

use std::sync::atomic::{AtomicU32, Ordering};

/// Fails the test, with the command that installs it, unless the program `tool` is installed.
/// The tests that need tools beyond cargo and a C compiler live in `tests/tool_*.rs`, which cargo
/// runs after the others, so a missing tool fails those tests and stops nothing before them.
pub fn require_tool(tool: &str, debian_package: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "this test needs `{tool}`, which is not installed: apt-get install {debian_package}");
}

/// Read-write handle options.
pub fn rw() -> mba::Options {
    mba::Options::default()
}
/// Read-only handle options.
pub fn ro() -> mba::Options {
    mba::Options { read_only: true, ..mba::Options::default() }
}
/// Options holding the writer lease.
pub fn excl() -> mba::Options {
    mba::Options { exclusive: true, ..mba::Options::default() }
}

/// A unique shm name for one test, deleted when dropped.
pub struct Name(pub String);

impl Name {
    pub fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Name(format!("shm://mba-test-{tag}-{}-{n}", std::process::id()))
    }
    pub fn uri(&self) -> &str {
        &self.0
    }
    /// The file behind the name, as a peer process would see it.
    pub fn path(&self) -> String {
        format!("/dev/shm/{}", &self.0["shm://".len()..])
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

/// A temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("mba-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn uri(&self, file: &str) -> String {
        format!("file://{}", self.0.join(file).display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `bytes` at `offset` of the file at `path`, as a hostile peer would.
pub fn poke(path: &str, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}
