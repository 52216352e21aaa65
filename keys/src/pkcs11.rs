//! Issuer signing keys in an HSM, over PKCS#11 ([`Pkcs11Token`], [`Pkcs11Signer`]).
//!
//! The Ed25519 key pair is generated **on the token** (`CKM_EC_EDWARDS_KEY_PAIR_GEN`) as a token
//! object that is sensitive and not extractable: the private key never exists outside the HSM, and
//! this crate holds only an object handle. Signing is `C_Sign` with `CKM_EDDSA` (pure Ed25519,
//! RFC 8032), so signatures are byte for byte what [`crate::SigningHandle`] would make with the
//! same key, and the key id is [`crate::key_id_for`] of the public key as for software keys.
//!
//! # Finding a key again
//!
//! A key pair is named by its `CKA_LABEL` (chosen by the admin, e.g. `vneid-hn-2026`: node and
//! year). After generation its `CKA_ID` is set to the key id, so tools such as `pkcs11-tool` show
//! both. After a restart, [`Pkcs11Token::signer`] finds the pair by label and checks, with one
//! test signature, that the public key read back belongs to the private key found.
//!
//! # Sessions and threads
//!
//! A PKCS#11 session is one sequence of calls (`C_Sign` is a two-step `C_SignInit`/`C_Sign` on it),
//! so it must not be shared between threads at once. A [`Pkcs11Signer`] keeps a small pool of
//! sessions, opened on demand up to its size: a signing thread takes an idle session, or opens one
//! if the pool is not full, or waits for one. A session the token has dropped (token removed,
//! HSM restarted) is discarded and the signature retried once on a fresh, logged-in session.
//!
//! # The module
//!
//! PKCS#11 wants one `C_Initialize` per process, and a `C_Finalize` would pull the module from
//! under every other user in the process. So a module, once loaded, stays loaded and initialized
//! for the life of the process, shared by every token opened from it.
//!
//! The PIN comes from a [`crate::SecretSource`] (never a command-line argument) and is kept, wiped
//! on drop, to log fresh sessions in.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use verifier::{KeyId, PublicKey};
use zeroize::Zeroizing;

use crate::{key_id_for, KeyError, Signer};

/// `CKA_EC_PARAMS` for Ed25519: the DER of the OID 1.3.101.112 (RFC 8410), which SoftHSM2 and
/// most HSMs take.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `CKA_EC_PARAMS` for Ed25519 as PKCS#11 3.0 also allows: the PrintableString "edwards25519".
/// Tried when a token refuses the OID.
const ED25519_PRINTABLE: &[u8] = b"\x13\x0cedwards25519";
/// Longest key label accepted.
const MAX_LABEL: usize = 64;
/// Pool size when a caller passes 0.
const DEFAULT_SESSIONS: usize = 4;

/// Loaded modules, by path: loaded once, never finalized (see the module docs).
static MODULES: Mutex<Vec<(PathBuf, Pkcs11)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves the data consistent (a list of loaded
    // modules; a pool of sessions, each of which is either in the list or not), so a poisoned
    // lock is used as it is.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn device(what: &str, e: CkError) -> KeyError {
    KeyError::Device(format!("{what}: {e}"))
}

fn rv(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Errors that mean "this session is gone", after which a fresh session may work.
fn session_lost(e: &CkError) -> bool {
    matches!(
        rv(e),
        Some(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid
        )
    )
}

fn load_module(path: &Path) -> Result<Pkcs11, KeyError> {
    let mut modules = lock(&MODULES);
    if let Some((_, ctx)) = modules.iter().find(|(p, _)| p == path) {
        return Ok(ctx.clone());
    }
    if !path.is_file() {
        return Err(KeyError::NotFound(format!("PKCS#11 module {}", path.display())));
    }
    let ctx = Pkcs11::new(path).map_err(|e| device(&format!("loading PKCS#11 module {}", path.display()), e))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another part of the process (another library) initialized it already: share it.
        Err(e) if rv(&e) == Some(RvError::CryptokiAlreadyInitialized) => {}
        Err(e) => return Err(device("C_Initialize", e)),
        Ok(()) => {}
    }
    modules.push((path.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

fn check_label(label: &str) -> Result<(), KeyError> {
    if label.is_empty() || label.len() > MAX_LABEL || !label.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeyError::InvalidArgument("key label must be 1 to 64 printable ASCII characters, no spaces"));
    }
    Ok(())
}

/// An open PKCS#11 token: a loaded module, the slot holding the token with the wanted label, and
/// the user PIN (checked when opening). Signing handles come from [`Pkcs11Token::generate`] and
/// [`Pkcs11Token::signer`].
pub struct Pkcs11Token {
    ctx: Pkcs11,
    slot: Slot,
    module: PathBuf,
    token_label: String,
    /// Shared with the signers, which log fresh sessions in with it; wiped when the last goes.
    pin: Arc<AuthPin>,
}

impl std::fmt::Debug for Pkcs11Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Token")
            .field("module", &self.module)
            .field("token", &self.token_label)
            .field("slot", &self.slot.id())
            .finish_non_exhaustive()
    }
}

/// One Ed25519 key pair found on a token ([`Pkcs11Token::keys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    /// Its `CKA_LABEL`.
    pub label: String,
    /// [`crate::key_id_for`] its public key.
    pub kid: KeyId,
    /// The public key.
    pub public_key: PublicKey,
}

/// How a private key on the token is protected, as the token reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    /// `CKA_TOKEN`: stored on the token (survives the session).
    pub token: bool,
    /// `CKA_SENSITIVE`: its value cannot be read in clear.
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`: it can be wrapped out of the token.
    pub extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`: it has been sensitive since it was made.
    pub always_sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`: it has never been extractable.
    pub never_extractable: bool,
}

impl KeyProtection {
    /// Whether the key was made on the token and can never have left it: the attestation the
    /// custody rules ask for.
    pub fn is_non_extractable(&self) -> bool {
        self.token && self.sensitive && !self.extractable && self.always_sensitive && self.never_extractable
    }
}

impl Pkcs11Token {
    /// Loads the PKCS#11 module at `module` (on Debian, SoftHSM2's is
    /// `/usr/lib/softhsm/libsofthsm2.so`), finds the initialized token labelled `token_label`
    /// and logs in with `pin` as the user, to check it.
    ///
    /// Errors: [`KeyError::NotFound`] for a missing module file or no such token,
    /// [`KeyError::WrongPin`] for a PIN the token refuses, [`KeyError::Device`] for everything
    /// else the module reports (a locked PIN, two tokens with the label, a module that does not
    /// load).
    ///
    /// PKCS#11 logs in per process, not per session: while another open token of the same module
    /// in this process is logged in, the token answers "already logged in" and the PIN given here
    /// is not checked again.
    pub fn open(module: &Path, token_label: &str, pin: Zeroizing<String>) -> Result<Self, KeyError> {
        let ctx = load_module(module)?;
        let mut found = Vec::new();
        for slot in ctx.get_slots_with_initialized_token().map_err(|e| device("C_GetSlotList", e))? {
            let info = ctx.get_token_info(slot).map_err(|e| device("C_GetTokenInfo", e))?;
            if info.label().trim_end() == token_label {
                found.push((slot, info));
            }
        }
        let (slot, info) = match found.len() {
            0 => {
                return Err(KeyError::NotFound(format!(
                    "PKCS#11 token labelled {token_label:?} in {}",
                    module.display()
                )))
            }
            1 => found.remove(0),
            n => {
                return Err(KeyError::Device(format!("{n} tokens are labelled {token_label:?}; labels must be unique")))
            }
        };
        if info.user_pin_locked() {
            return Err(KeyError::Device(format!(
                "the user PIN of token {token_label:?} is locked; the SO must reset it"
            )));
        }
        // An exact-size copy: `AuthPin` boxes the string, and a boxed string with spare capacity
        // would be reallocated, leaving an unwiped copy behind.
        let mut exact = String::with_capacity(pin.len());
        exact.push_str(&pin);
        drop(pin);
        let token = Self {
            ctx,
            slot,
            module: module.to_path_buf(),
            token_label: token_label.to_owned(),
            pin: Arc::new(AuthPin::from(exact)),
        };
        // Check the PIN now, so a wrong one shows at start and not at the first signature.
        token.session()?;
        Ok(token)
    }

    /// A read-write session logged in as the user.
    fn session(&self) -> Result<Session, KeyError> {
        open_session(&self.ctx, self.slot, &self.pin)
    }

    /// Generates an Ed25519 key pair on the token, labelled `label`: the private key sensitive,
    /// not extractable, a token object usable only to sign; then sets `CKA_ID` on both halves to
    /// the key id, and returns a signer with a pool of up to `sessions` sessions (0: 4).
    ///
    /// Refuses a label already used on the token ([`KeyError::InvalidArgument`]): labels are how
    /// keys are found again.
    pub fn generate(&self, label: &str, sessions: usize) -> Result<Pkcs11Signer, KeyError> {
        check_label(label)?;
        let session = self.session()?;
        let taken = session.find_objects(&[Attribute::Label(label.into())]).map_err(|e| device("C_FindObjects", e))?;
        if !taken.is_empty() {
            return Err(KeyError::InvalidArgument("a key with this label already exists on the token"));
        }
        let (public, private) = generate_pair(&session, label)?;
        let pk = match read_public(&session, public) {
            Ok(pk) => pk,
            Err(e) => {
                let _ = session.destroy_object(private);
                let _ = session.destroy_object(public);
                return Err(e);
            }
        };
        let kid = key_id_for(&pk);
        for obj in [public, private] {
            if let Err(e) = session.update_attributes(obj, &[Attribute::Id(kid.as_bytes().to_vec())]) {
                let _ = session.destroy_object(private);
                let _ = session.destroy_object(public);
                return Err(device("setting CKA_ID", e));
            }
        }
        Pkcs11Signer::new(self, label, private, pk, session, sessions)
    }

    /// A signer for the key pair labelled `label`, generated earlier (by this process or another).
    ///
    /// Refuses a key that is not sensitive, is extractable, or was not made on the token
    /// ([`KeyError::Device`]): its value could exist outside the HSM. [`KeyError::NotFound`] when
    /// no Ed25519 key pair has this label.
    pub fn signer(&self, label: &str, sessions: usize) -> Result<Pkcs11Signer, KeyError> {
        check_label(label)?;
        let session = self.session()?;
        let private = find_one(&session, ObjectClass::PRIVATE_KEY, label)?;
        let public = find_one(&session, ObjectClass::PUBLIC_KEY, label)?;
        let protection = protection(&session, private)?;
        if !protection.is_non_extractable() {
            return Err(KeyError::Device(format!(
                "key {label:?} could exist outside the token ({protection:?}); refusing to use it"
            )));
        }
        let pk = read_public(&session, public)?;
        Pkcs11Signer::new(self, label, private, pk, session, sessions)
    }

    /// Every Ed25519 key pair on the token that has a label, with its key id and public key.
    pub fn keys(&self) -> Result<Vec<TokenKey>, KeyError> {
        let session = self.session()?;
        let publics = session
            .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::KeyType(KeyType::EC_EDWARDS)])
            .map_err(|e| device("C_FindObjects", e))?;
        let mut out = Vec::new();
        for obj in publics {
            let attrs =
                session.get_attributes(obj, &[AttributeType::Label]).map_err(|e| device("C_GetAttributeValue", e))?;
            let Some(label) = attrs.into_iter().find_map(|a| match a {
                Attribute::Label(l) => String::from_utf8(l).ok(),
                _ => None,
            }) else {
                continue;
            };
            let public_key = read_public(&session, obj)?;
            out.push(TokenKey { label, kid: key_id_for(&public_key), public_key });
        }
        out.sort_by(|a, b| a.label.cmp(&b.label));
        Ok(out)
    }
}

fn open_session(ctx: &Pkcs11, slot: Slot, pin: &AuthPin) -> Result<Session, KeyError> {
    let session = ctx.open_rw_session(slot).map_err(|e| device("C_OpenSession", e))?;
    match session.login(UserType::User, Some(pin)) {
        Ok(()) => Ok(session),
        // Login is per application, not per session: another session logged us in already.
        Err(e) if rv(&e) == Some(RvError::UserAlreadyLoggedIn) => Ok(session),
        Err(e) if rv(&e) == Some(RvError::PinIncorrect) => Err(KeyError::WrongPin),
        Err(e) if rv(&e) == Some(RvError::PinLocked) => {
            Err(KeyError::Device("the user PIN is locked; the SO must reset it".into()))
        }
        Err(e) => Err(device("C_Login", e)),
    }
}

fn generate_pair(session: &Session, label: &str) -> Result<(ObjectHandle, ObjectHandle), KeyError> {
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Derive(false),
        Attribute::Label(label.into()),
    ];
    let mut last = None;
    for params in [ED25519_OID, ED25519_PRINTABLE] {
        let public = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(params.to_vec()),
            Attribute::Label(label.into()),
        ];
        match session.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private) {
            Ok(pair) => return Ok(pair),
            Err(e)
                if matches!(
                    rv(&e),
                    Some(
                        RvError::CurveNotSupported
                            | RvError::AttributeValueInvalid
                            | RvError::DomainParamsInvalid
                            | RvError::TemplateInconsistent
                    )
                ) =>
            {
                last = Some(e);
            }
            Err(e) => return Err(device("C_GenerateKeyPair (Ed25519)", e)),
        }
    }
    Err(match last {
        Some(e) => device("C_GenerateKeyPair: the token takes neither form of the Ed25519 parameters", e),
        None => KeyError::Device("C_GenerateKeyPair failed".into()),
    })
}

fn find_one(session: &Session, class: ObjectClass, label: &str) -> Result<ObjectHandle, KeyError> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Label(label.into()),
        ])
        .map_err(|e| device("C_FindObjects", e))?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(KeyError::NotFound(format!("Ed25519 {class} labelled {label:?} on the token"))),
        _ => Err(KeyError::Device(format!("{} objects of class {class} are labelled {label:?}", found.len()))),
    }
}

fn protection(session: &Session, private: ObjectHandle) -> Result<KeyProtection, KeyError> {
    let attrs = session
        .get_attributes(
            private,
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .map_err(|e| device("C_GetAttributeValue", e))?;
    // Missing answers count against the key: an unknown `extractable` is taken as true.
    let mut p = KeyProtection {
        token: false,
        sensitive: false,
        extractable: true,
        always_sensitive: false,
        never_extractable: false,
    };
    for a in attrs {
        match a {
            Attribute::Token(b) => p.token = b,
            Attribute::Sensitive(b) => p.sensitive = b,
            Attribute::Extractable(b) => p.extractable = b,
            Attribute::AlwaysSensitive(b) => p.always_sensitive = b,
            Attribute::NeverExtractable(b) => p.never_extractable = b,
            _ => {}
        }
    }
    Ok(p)
}

/// The Ed25519 public key from `CKA_EC_POINT`: a DER OCTET STRING around the 32 bytes (PKCS#11
/// 3.0), or the 32 bytes bare, which some tokens return.
fn read_public(session: &Session, public: ObjectHandle) -> Result<PublicKey, KeyError> {
    let attrs =
        session.get_attributes(public, &[AttributeType::EcPoint]).map_err(|e| device("C_GetAttributeValue", e))?;
    let point = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(p) => Some(p),
            _ => None,
        })
        .ok_or_else(|| KeyError::Device("the public key has no CKA_EC_POINT".into()))?;
    let raw = match point.as_slice() {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        bare if bare.len() == 32 => bare,
        _ => return Err(KeyError::Device(format!("CKA_EC_POINT of {} bytes is not an Ed25519 key", point.len()))),
    };
    PublicKey::try_from(raw).map_err(|e| KeyError::Device(e.into()))
}

/// Sessions for one signer: idle ones, and how many are open in all (idle or lent out).
struct Pool {
    state: Mutex<PoolState>,
    returned: Condvar,
    max: usize,
}

struct PoolState {
    idle: Vec<Session>,
    open: usize,
    /// The private key's handle; refreshed when a new session had to find it again.
    key: ObjectHandle,
}

/// A signing handle on an Ed25519 key held in a PKCS#11 token. Cheap to share (`Arc<dyn Signer>`),
/// safe to sign with from many threads at once (see the module docs on sessions).
pub struct Pkcs11Signer {
    kid: KeyId,
    public_key: PublicKey,
    label: String,
    ctx: Pkcs11,
    slot: Slot,
    pin: Arc<AuthPin>,
    pool: Pool,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("kid", &self.kid)
            .field("label", &self.label)
            .field("slot", &self.slot.id())
            .field("sessions", &self.pool.max)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Signer {
    fn new(
        token: &Pkcs11Token,
        label: &str,
        key: ObjectHandle,
        public_key: PublicKey,
        first: Session,
        sessions: usize,
    ) -> Result<Self, KeyError> {
        let max = if sessions == 0 { DEFAULT_SESSIONS } else { sessions };
        let signer = Self {
            kid: key_id_for(&public_key),
            public_key,
            label: label.to_owned(),
            ctx: token.ctx.clone(),
            slot: token.slot,
            pin: Arc::clone(&token.pin),
            pool: Pool {
                state: Mutex::new(PoolState { idle: vec![first], open: 1, key }),
                returned: Condvar::new(),
                max,
            },
        };
        // The public key was read from a separate object: one signature proves it belongs to
        // the private key found, before anything is signed for real.
        let probe = b"vneid-keys/v1/pkcs11-self-test";
        let sig = signer.sign(probe)?;
        let ok = verifier::build::crypto::Ed25519Key::from_public(&public_key).is_some_and(|k| k.verify(probe, &sig));
        if !ok {
            return Err(KeyError::Device(format!(
                "key {label:?}: the public key on the token does not verify the private key's signature"
            )));
        }
        Ok(signer)
    }

    /// The key pair's `CKA_LABEL`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How the token says the private key is protected (read afresh).
    pub fn protection(&self) -> Result<KeyProtection, KeyError> {
        let (session, key) = self.take()?;
        let p = protection(&session, key);
        self.give_back(session);
        p
    }

    /// Takes an idle session, opens one if the pool has room, or waits for one.
    fn take(&self) -> Result<(Session, ObjectHandle), KeyError> {
        let mut st = lock(&self.pool.state);
        loop {
            if let Some(s) = st.idle.pop() {
                return Ok((s, st.key));
            }
            if st.open < self.pool.max {
                st.open += 1;
                let key = st.key;
                drop(st);
                return match open_session(&self.ctx, self.slot, &self.pin) {
                    Ok(s) => Ok((s, key)),
                    Err(e) => {
                        self.forget_one();
                        Err(e)
                    }
                };
            }
            st = self.pool.returned.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, session: Session) {
        lock(&self.pool.state).idle.push(session);
        self.pool.returned.notify_one();
    }

    /// A lent session was dropped instead of given back.
    fn forget_one(&self) {
        let mut st = lock(&self.pool.state);
        st.open = st.open.saturating_sub(1);
        drop(st);
        self.pool.returned.notify_one();
    }

    fn sign_once(&self, session: &Session, key: ObjectHandle, msg: &[u8]) -> Result<Vec<u8>, CkError> {
        session.sign(&Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)), key, msg)
    }

    /// After a lost session: every idle session is likely gone too (token reset), so drop them,
    /// open a fresh one, log in and find the key again by label.
    fn recover(&self) -> Result<(Session, ObjectHandle), KeyError> {
        let stale: Vec<Session> = {
            let mut st = lock(&self.pool.state);
            let stale = std::mem::take(&mut st.idle);
            st.open = st.open.saturating_sub(stale.len());
            stale
        };
        drop(stale);
        let (session, _) = self.take()?;
        let key = match find_one(&session, ObjectClass::PRIVATE_KEY, &self.label) {
            Ok(k) => k,
            Err(e) => {
                drop(session);
                self.forget_one();
                return Err(e);
            }
        };
        lock(&self.pool.state).key = key;
        Ok((session, key))
    }
}

impl Signer for Pkcs11Signer {
    fn kid(&self) -> &KeyId {
        &self.kid
    }

    fn public_key(&self) -> PublicKey {
        self.public_key
    }

    fn sign(&self, msg: &[u8]) -> Result<[u8; 64], KeyError> {
        let (session, key) = self.take()?;
        let (session, sig) = match self.sign_once(&session, key, msg) {
            Ok(sig) => (session, sig),
            Err(e) if session_lost(&e) => {
                drop(session);
                self.forget_one();
                let (session, key) = self.recover()?;
                match self.sign_once(&session, key, msg) {
                    Ok(sig) => (session, sig),
                    Err(e) => {
                        self.give_back(session);
                        return Err(device("C_Sign (after reopening the session)", e));
                    }
                }
            }
            Err(e) => {
                self.give_back(session);
                return Err(device("C_Sign", e));
            }
        };
        self.give_back(session);
        <[u8; 64]>::try_from(sig.as_slice())
            .map_err(|_| KeyError::Device(format!("C_Sign gave {} bytes, not an Ed25519 signature", sig.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for ok in ["vneid-hn-2026", "a", &"x".repeat(64)] {
            check_label(ok).unwrap();
        }
        for bad in ["", "with space", &"x".repeat(65), "é"] {
            assert!(matches!(check_label(bad), Err(KeyError::InvalidArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_missing_module_is_not_found() {
        let r = Pkcs11Token::open(Path::new("/nonexistent/libnothing.so"), "t", Zeroizing::new("1234".into()));
        assert!(matches!(r, Err(KeyError::NotFound(_))), "{r:?}");
    }

    #[test]
    fn protection_attestation() {
        let good = KeyProtection {
            token: true,
            sensitive: true,
            extractable: false,
            always_sensitive: true,
            never_extractable: true,
        };
        assert!(good.is_non_extractable());
        for bad in [
            KeyProtection { token: false, ..good },
            KeyProtection { sensitive: false, ..good },
            KeyProtection { extractable: true, ..good },
            KeyProtection { always_sensitive: false, ..good },
            KeyProtection { never_extractable: false, ..good },
        ] {
            assert!(!bad.is_non_extractable(), "{bad:?}");
        }
    }
}
