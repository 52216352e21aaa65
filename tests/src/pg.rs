//! A throwaway PostgreSQL cluster for the tests, started with `scripts/pg-cluster` (which runs
//! it as an unprivileged user on a free loopback port) and removed when dropped. A test that
//! needs PostgreSQL fails, never skips, when the server cannot start: `scripts/ensure-deps`
//! installs it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context as _, Result};

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    dir: tempfile::TempDir,
    /// `postgres://…/vneid`, the superuser's connection to the default database.
    pub url: String,
}

fn script() -> PathBuf {
    crate::workspace().join("scripts/pg-cluster")
}

impl Cluster {
    pub fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let out = Command::new(script()).arg("start").arg(dir.path()).output().context("running scripts/pg-cluster")?;
        if !out.status.success() {
            bail!(
                "PostgreSQL did not start ({}): {}{} — scripts/ensure-deps postgres installs it",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let url = std::fs::read_to_string(dir.path().join("url"))?.trim().to_owned();
        Ok(Self { dir, url })
    }

    /// Creates an empty database and returns its URL.
    pub async fn database(&self, name: &str) -> Result<String> {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await?;
        let task = tokio::spawn(conn);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
        drop(client);
        let _ = task.await;
        let (base, _) = self.url.rsplit_once('/').context("odd URL")?;
        Ok(format!("{base}/{name}"))
    }
}

impl Cluster {
    /// The pids of the server's processes (the postmaster and its children), to stop and
    /// resume them (a stalled database, as a test sees it).
    pub fn pids(&self) -> Result<Vec<u32>> {
        let pidfile = std::fs::read_to_string(self.dir.path().join("pg/data/postmaster.pid"))
            .context("reading postmaster.pid")?;
        let main: u32 = pidfile.lines().next().unwrap_or_default().trim().parse().context("postmaster pid")?;
        let children = std::fs::read_to_string(format!("/proc/{main}/task/{main}/children")).unwrap_or_default();
        let mut out = vec![main];
        out.extend(children.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
        Ok(out)
    }

    /// Sends `signal` (`STOP`, `CONT`) to every process of the server.
    pub fn signal(&self, signal: &str) -> Result<()> {
        for pid in self.pids()? {
            let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(self.dir.path()).output();
    }
}
