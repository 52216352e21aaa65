//! The use cases: submit, capture biometrics, check, approve, offer, redeem, issue, change
//! status, rotate keys, publish. This layer knows no axum and no storage engine: it takes parsed
//! inputs, applies the `enrollment` rules, seals personal data, builds audit entries, and calls
//! one [`Store`] method per atomic change. Its errors are typed ([`ServiceError`]); the HTTP
//! layer maps them to responses in one place.

pub mod admin;
pub mod audit;
pub mod backup;
pub mod console_support;
pub mod delivery;
pub mod enroll;
pub mod error;
pub mod idempotency;
pub mod issue;
pub mod keys;
pub mod notify;
pub mod ops;
pub mod publish;
pub mod records;
pub mod registry_sync;
pub mod reissue;
pub mod rules;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

pub use error::{Reason, Result, ServiceError, WalletError};
pub use idempotency::IdempotencyKey;

use crate::clock::Clock;
use crate::custody::Custody;
use crate::ids::TokenId;
use crate::seal::Sealer;
use crate::store::{Digest, Role, Store};

/// Settings of the use cases (from the command line or configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The base URL wallets and verifiers reach this issuer at, without a trailing slash.
    pub issuer_url: String,
    /// How long a credential offer stays redeemable.
    pub offer_ttl: u64,
    /// Lifetime of an access token and its nonce.
    pub access_ttl: u64,
    /// Status list and trust list tokens are signed again on change at most this often.
    pub publish_interval: Duration,
    /// Entries per status list (at least 131,072, so random indices keep holders unlinkable).
    pub status_capacity: u64,
    /// A new status list is opened once the newest holds this many entries (random indices
    /// collide more often as a list fills).
    pub status_list_max_entries: u64,
    /// Digits of an offer's transaction code (`tx_code`).
    pub tx_code_length: u32,
    /// Wrong transaction codes after which an offer is dead (the officer renews it).
    pub max_wrong_tx_codes: u32,
    /// Lifetime of a nonce from the Nonce Endpoint.
    pub nonce_ttl: u64,
    /// Most SD-JWT VC instances (proofs) one credential request may ask for.
    pub batch_size: usize,
    /// What `/readyz` checks against.
    pub health: crate::config::Health,
    /// Below this much free space on the store's volume, writes are refused and the node is not
    /// ready (the embedded store's floor, at least 1 MiB).
    pub disk_floor: u64,
    /// When the admin is warned before the active key stops signing, and how long a `next` key
    /// must have been in a published trust list before it is activated.
    pub rotation: ::keys::RotationPolicy,
    /// Most re-offers a re-issuance sends per second.
    pub reoffer_rate: u32,
}

impl Settings {
    pub fn new(issuer_url: &str) -> Self {
        Self {
            issuer_url: issuer_url.trim_end_matches('/').to_owned(),
            offer_ttl: 7 * 86_400,
            access_ttl: 300,
            publish_interval: Duration::from_secs(1),
            status_capacity: 1 << 20,
            status_list_max_entries: 1 << 19,
            tx_code_length: 6,
            max_wrong_tx_codes: 5,
            nonce_ttl: 300,
            batch_size: 4,
            health: crate::config::Health::default(),
            disk_floor: crate::store::embedded::MIN_FREE_BYTES,
            rotation: ::keys::RotationPolicy::default(),
            reoffer_rate: 20,
        }
    }
}

/// Who is calling: a staff member authenticated by a bearer token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: TokenId,
    pub role: Role,
    pub name: String,
    pub reception_point: Option<String>,
}

/// The issuer's use cases over a store, the keys and the rules.
pub struct Service {
    store: Arc<dyn Store>,
    custody: Arc<Custody>,
    sealer: Sealer,
    clock: Arc<dyn Clock>,
    registry: Arc<dyn enrollment::registry::NationalRegistry>,
    holidays: enrollment::deadline::HolidayCalendar,
    settings: Settings,
    published: publish::Published,
    notifier: Arc<dyn notify::Notifier>,
    /// The registry change job's state on this node (one run at a time, its progress).
    registry_sync: registry_sync::SyncState,
    /// Rotation warnings and trust list reminders already given.
    key_watch: keys::Watch,
    /// Re-issuances running in this process.
    reissues: reissue::Running,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("store", &self.store).field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Everything a [`Service`] is built from.
#[allow(missing_debug_implementations)]
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub custody: Arc<Custody>,
    pub sealer: Sealer,
    pub clock: Arc<dyn Clock>,
    pub registry: Arc<dyn enrollment::registry::NationalRegistry>,
    pub holidays: enrollment::deadline::HolidayCalendar,
    pub settings: Settings,
    /// Where transaction codes go besides the officer (SMS/e-mail gateway, or the outbox file).
    pub notifier: Arc<dyn notify::Notifier>,
}

impl Service {
    /// Builds the service and publishes the first trust list and status list tokens, so the
    /// node serves signed lists from its first request.
    pub async fn start(parts: Parts) -> Result<Arc<Self>> {
        let s = Arc::new(Self {
            store: parts.store,
            custody: parts.custody,
            sealer: parts.sealer,
            clock: parts.clock,
            registry: parts.registry,
            holidays: parts.holidays,
            settings: parts.settings,
            published: publish::Published::default(),
            notifier: parts.notifier,
            registry_sync: registry_sync::SyncState::default(),
            key_watch: keys::Watch::default(),
            reissues: reissue::Running::default(),
        });
        s.publish(true).await?;
        Ok(s)
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn issuer_url(&self) -> &str {
        &self.settings.issuer_url
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn custody(&self) -> &Arc<Custody> {
        &self.custody
    }

    pub fn notifier(&self) -> &Arc<dyn notify::Notifier> {
        &self.notifier
    }

    /// The root public key verifiers pin.
    pub fn root_public(&self) -> String {
        self.custody.root_public()
    }

    /// The staff member a bearer token belongs to.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal> {
        if bearer.is_empty() || bearer.len() > 128 {
            return Err(ServiceError::Unauthorized);
        }
        let row = self.store.token(&hash_secret(bearer)).await?.ok_or(ServiceError::Unauthorized)?;
        if row.revoked {
            return Err(ServiceError::Unauthorized);
        }
        Ok(Principal { id: row.id, role: row.role, name: row.name, reception_point: row.reception_point })
    }

    /// Whether the write path makes a change durable within `deadline`.
    pub async fn write_path_ok(&self, deadline: Duration) -> bool {
        matches!(tokio::time::timeout(deadline, self.store.ping()).await, Ok(Ok(())))
    }
}

/// SHA-256 of a secret (token, code): what is stored instead of it.
pub fn hash_secret(secret: &str) -> Digest {
    Digest(Sha256::digest(secret.as_bytes()).into())
}

/// A new random secret (256 bits) with a readable prefix (`vnid_adm_…`, `pac_…`).
pub fn new_secret(prefix: &str) -> Zeroizing<String> {
    let mut b = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(b.as_mut());
    Zeroizing::new(format!("{prefix}{}", B64.encode(b.as_ref())))
}

fn require(who: &Principal, role: Role) -> Result<()> {
    if who.role == role {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}
