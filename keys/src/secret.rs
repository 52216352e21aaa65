//! Where a passphrase or a PIN comes from: a prompt, a file, an inherited file descriptor, or an
//! environment variable. Never a command-line argument: those are visible to every user of the
//! machine (`ps`, `/proc/*/cmdline`) and land in shell histories.
//!
//! Whatever the source, the secret ends up in a [`Zeroizing`] string and is wiped when dropped.
//! One trailing line ending is removed (files and pipes usually end with one); nothing else is,
//! so a passphrase may begin or end with spaces.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use zeroize::{Zeroize as _, Zeroizing};

use crate::fsio::io;
use crate::KeyError;

/// The environment variable the `keys` tool reads the keystore passphrase from when no file or
/// descriptor is named.
pub const PASSPHRASE_ENV: &str = "VNEID_KEYS_PASSPHRASE";
/// The environment variable a PKCS#11 token's user PIN is read from when no file or descriptor is
/// named.
pub const PIN_ENV: &str = "VNEID_HSM_PIN";

/// Longest secret read from a file, a descriptor or the environment: a passphrase is short, and a
/// wrong path (a disk image, `/dev/zero`) must not be read to the end.
pub const MAX_SECRET_LEN: usize = 1024;

/// Where to read one secret from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// Ask on the controlling terminal (`/dev/tty`), without echo. Fails when there is none.
    Prompt,
    /// The contents of a file (mode 0600 on a private directory, or a tmpfs such as
    /// `/run/credentials` that systemd's `LoadCredential=` fills).
    File(PathBuf),
    /// An inherited open file descriptor, read to its end: `keys … --passphrase-fd 3
    /// 3<secret-file`, or a pipe from a password manager.
    Fd(u32),
    /// An environment variable, named here. Visible to the process's own user through
    /// `/proc/PID/environ`, so prefer a file or a descriptor on shared machines.
    Env(String),
}

impl SecretSource {
    /// The usual order of precedence: an explicit file, then an explicit descriptor, then the
    /// environment variable `env` if it is set, and the prompt last.
    pub fn choose(file: Option<PathBuf>, fd: Option<u32>, env: &str) -> Self {
        match (file, fd) {
            (Some(f), _) => SecretSource::File(f),
            (None, Some(fd)) => SecretSource::Fd(fd),
            (None, None) if std::env::var_os(env).is_some() => SecretSource::Env(env.to_owned()),
            (None, None) => SecretSource::Prompt,
        }
    }

    /// Reads the secret. `what` names it in the prompt and in errors ("passphrase", "PIN").
    ///
    /// Refuses an empty secret, one longer than [`MAX_SECRET_LEN`] bytes, and one that is not
    /// UTF-8 ([`KeyError::InvalidArgument`]); a file or descriptor that cannot be read is
    /// [`KeyError::Io`].
    pub fn read(&self, what: &str) -> Result<Zeroizing<String>, KeyError> {
        let secret = match self {
            SecretSource::Prompt => prompt(&format!("{what}: "))?,
            SecretSource::File(path) => read_file(path)?,
            SecretSource::Fd(fd) => read_file(&fd_path(*fd))?,
            SecretSource::Env(name) => {
                let Some(v) = std::env::var_os(name) else {
                    return Err(KeyError::NotFound(format!("environment variable {name}")));
                };
                let v = Zeroizing::new(v.into_string().map_err(|mut os| {
                    os.clear();
                    KeyError::InvalidArgument("secret in the environment is not UTF-8")
                })?);
                if v.len() > MAX_SECRET_LEN {
                    return Err(KeyError::InvalidArgument("secret longer than 1024 bytes"));
                }
                v
            }
        };
        if secret.is_empty() {
            return Err(KeyError::InvalidArgument("empty secret"));
        }
        Ok(secret)
    }

    /// Reads a new secret, asking twice on a prompt so a typing mistake does not lock the
    /// keystore for ever. Other sources are read once.
    pub fn read_new(&self, what: &str) -> Result<Zeroizing<String>, KeyError> {
        if *self != SecretSource::Prompt {
            return self.read(what);
        }
        let first = self.read(&format!("new {what}"))?;
        let again = prompt(&format!("repeat the new {what}: "))?;
        if *first != *again {
            return Err(KeyError::InvalidArgument("the two entries differ"));
        }
        Ok(first)
    }
}

/// An inherited descriptor, reopened through `/dev/fd` (no `unsafe` `from_raw_fd`): on Linux this
/// opens the same pipe or file.
fn fd_path(fd: u32) -> PathBuf {
    PathBuf::from(format!("/dev/fd/{fd}"))
}

fn prompt(text: &str) -> Result<Zeroizing<String>, KeyError> {
    // rpassword opens /dev/tty itself, so a prompt works with stdin redirected. Without a
    // terminal we refuse, rather than read a secret from a pipe we did not ask for.
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").is_err() {
        return Err(KeyError::InvalidArgument(
            "no terminal to ask on: give the secret in a file, a descriptor or the environment",
        ));
    }
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|source| KeyError::Io { path: PathBuf::from("/dev/tty"), source })
}

fn read_file(path: &Path) -> Result<Zeroizing<String>, KeyError> {
    let f = std::fs::File::open(path).map_err(io(path))?;
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_SECRET_LEN + 1));
    // Bounded: one byte more than allowed tells "too long" apart. The capacity is reserved up
    // front so the buffer never reallocates and leaves an unwiped copy behind.
    f.take(MAX_SECRET_LEN as u64 + 1).read_to_end(&mut buf).map_err(io(path))?;
    if buf.len() > MAX_SECRET_LEN {
        return Err(KeyError::InvalidArgument("secret longer than 1024 bytes"));
    }
    for ending in [&b"\r\n"[..], b"\n"] {
        if buf.ends_with(ending) {
            let n = buf.len() - ending.len();
            buf[n..].zeroize();
            buf.truncate(n);
            break;
        }
    }
    match String::from_utf8(std::mem::take(&mut *buf)) {
        Ok(s) => Ok(Zeroizing::new(s)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(KeyError::InvalidArgument("secret is not UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_lose_one_line_ending_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        for (content, want) in [
            (&b"pass phrase\n"[..], " pass phrase"),
            (b"pass phrase\r\n", " pass phrase"),
            (b"pass phrase\n\n", " pass phrase\n"),
            (b"  spaced  ", "   spaced  "),
        ] {
            let mut c = b" ".to_vec();
            c.extend_from_slice(content);
            std::fs::write(&p, &c).unwrap();
            assert_eq!(SecretSource::File(p.clone()).read("passphrase").unwrap().as_str(), want);
        }
    }

    #[test]
    fn bad_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        for bad in [&b""[..], b"\n", &[0xff, 0xfe][..], &[b'a'; MAX_SECRET_LEN + 1][..]] {
            std::fs::write(&p, bad).unwrap();
            assert!(matches!(SecretSource::File(p.clone()).read("x"), Err(KeyError::InvalidArgument(_))), "{bad:?}");
        }
        std::fs::write(&p, [b'a'; MAX_SECRET_LEN]).unwrap();
        assert_eq!(SecretSource::File(p.clone()).read("x").unwrap().len(), MAX_SECRET_LEN);
        let missing = SecretSource::File(dir.path().join("none")).read("x");
        assert!(matches!(missing, Err(KeyError::Io { .. })));
        let unset = SecretSource::Env("VNEID_TEST_SURELY_UNSET_VARIABLE".into()).read("x");
        assert!(matches!(unset, Err(KeyError::NotFound(_))));
    }

    #[test]
    fn precedence() {
        let f = PathBuf::from("/f");
        assert_eq!(SecretSource::choose(Some(f.clone()), Some(3), "PATH"), SecretSource::File(f));
        assert_eq!(SecretSource::choose(None, Some(3), "PATH"), SecretSource::Fd(3));
        assert_eq!(SecretSource::choose(None, None, "PATH"), SecretSource::Env("PATH".into()));
        assert_eq!(SecretSource::choose(None, None, "VNEID_TEST_SURELY_UNSET_VARIABLE"), SecretSource::Prompt);
    }
}
