//! Atomic, durable, private file writes.
//!
//! A write goes to a fresh temporary file in the same directory (created 0600, never following
//! an existing path), is fsynced, then renamed over the target (or hard-linked to it when the
//! target must not be replaced), and the directory is fsynced so the rename itself survives a
//! crash. A failed write removes its temporary file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use crate::crypto::{b64, random};
use crate::KeyError;

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io { path: path.to_path_buf(), source }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates `dir` (and its parents) if needed and makes it private (0700).
pub(crate) fn private_dir(dir: &Path) -> Result<(), KeyError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), KeyError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes `bytes` to a new temporary file next to `path` and fsyncs it.
fn write_temp(path: &Path, bytes: &[u8]) -> Result<PathBuf, KeyError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = parent(path).join(format!(".{name}.{}.tmp", b64(random::<6>()?.as_ref())));
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(io(&tmp))?;
    if let Err(e) = f.write_all(bytes).and_then(|()| f.sync_all()) {
        let _ = fs::remove_file(&tmp);
        return Err(KeyError::Io { path: tmp, source: e });
    }
    Ok(tmp)
}

/// Replaces `path` with `bytes`, atomically and durably.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let tmp = write_temp(path, bytes)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(KeyError::Io { path: path.to_path_buf(), source: e });
    }
    sync_dir(parent(path))
}

/// Creates `path` with `bytes`, atomically and durably, failing with
/// [`KeyError::AlreadyExists`] rather than replacing what is there.
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let tmp = write_temp(path, bytes)?;
    // A hard link, unlike a rename, refuses an existing target: no check-then-act race.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(KeyError::AlreadyExists(path.to_path_buf())),
        Err(e) => Err(KeyError::Io { path: path.to_path_buf(), source: e }),
    }
}

/// Reads a file of at most `max` bytes; a missing file is `Ok(None)`, a longer one corrupt.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, KeyError> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(KeyError::Io { path: path.to_path_buf(), source: e }),
    };
    let mut buf = Vec::new();
    f.take(max + 1).read_to_end(&mut buf).map_err(io(path))?;
    if buf.len() as u64 > max {
        return Err(KeyError::corrupt(path, "file too large"));
    }
    Ok(Some(buf))
}

/// Creates a key file to unlock a keystore with ([`crate::Unlock::KeyFile`]): 32 random bytes,
/// mode 0600, written atomically and durably.
///
/// Refuses to replace an existing file ([`KeyError::AlreadyExists`]): overwriting a key file
/// would make every key it protects unrecoverable. The parent directory must exist.
pub fn create_key_file(path: &Path) -> Result<(), KeyError> {
    let bytes = random::<32>()?;
    write_new(path, bytes.as_ref())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[cfg(unix)]
    pub(crate) fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn atomic_writes_are_private_and_leave_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("store");
        private_dir(&d).unwrap();
        let p = d.join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(&d).unwrap().count(), 1, "no temporary file left");
        #[cfg(unix)]
        {
            assert_eq!(mode(&p), 0o600);
            assert_eq!(mode(&d), 0o700);
        }
    }

    #[test]
    fn key_files_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("kek");
        create_key_file(&p).unwrap();
        let first = fs::read(&p).unwrap();
        assert_eq!(first.len(), 32);
        assert!(matches!(create_key_file(&p), Err(KeyError::AlreadyExists(_))));
        assert_eq!(fs::read(&p).unwrap(), first);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
        #[cfg(unix)]
        assert_eq!(mode(&p), 0o600);
    }

    #[test]
    fn bounded_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        assert!(read_bounded(&p, 4).unwrap().is_none());
        fs::write(&p, b"1234").unwrap();
        assert_eq!(read_bounded(&p, 4).unwrap().unwrap(), b"1234");
        assert!(matches!(read_bounded(&p, 3), Err(KeyError::Corrupt { .. })));
    }
}
