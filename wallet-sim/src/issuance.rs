//! Receiving credentials: the OpenID4VCI 1.0 pre-authorized code flow, as a typestate.
//!
//! [`Offer`] → [`Offer::discover`] (credential issuer metadata, then the authorization server
//! metadata, RFC 8414) → [`Discovered`] → [`Discovered::token`] (the pre-authorized code and the
//! transaction code the holder received by SMS or e-mail) → [`Authorized`] →
//! [`Authorized::credential`] (a nonce from the Nonce Endpoint, bound to this session by the
//! access token; a `proofs` request) → [`CredentialSet`]. Each step consumes the previous one,
//! so a token cannot be redeemed twice and a proof cannot be built before there is a nonce.
//!
//! The HTTP is plain blocking `ureq` with timeouts, no redirects (an issuer endpoint that
//! redirects is misconfigured, and following a redirect with a bearer token risks sending it
//! elsewhere), and bounded response bodies. Error answers (4xx/5xx with `error` and a text:
//! the API's `message`, or OAuth's `error_description` on the OpenID4VCI endpoints) come back as
//! [`Error::Issuer`], their text cut short and stripped of control characters before it reaches
//! a terminal.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use verifier::build::oid4vci::{self, CredentialOffer};
use verifier::Purpose;
use zeroize::Zeroizing;

use crate::store::{decode_qr_credential, CredentialSet, StoredQr};
use crate::{DeviceKey, Error, Result, Wallet};

/// Largest response body read from the issuer (an SD-JWT VC is at most 64 KiB).
const MAX_BODY: u64 = 256 * 1024;
/// Longest issuer error text shown.
const MAX_MESSAGE: usize = 300;
const TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the whole flow for `offer_uri` at time `now`, with the transaction code the holder
/// received (`tx_code`, when the offer asks for one), and replaces the wallet's credential set
/// with what was received (after checking it). Nothing is stored if any step fails.
pub fn receive(wallet: &Wallet, offer_uri: &str, tx_code: Option<&str>, now: u64) -> Result<CredentialSet> {
    let device = wallet.device_key()?;
    let http = Http::new();
    let offer = Offer::parse(offer_uri)?;
    let tx_code = offer.check_tx_code(tx_code)?;
    let set = offer.discover(&http)?.token(&http, tx_code.as_ref())?.credential(&http, &device, now)?;
    wallet.save_credentials(&set)?;
    Ok(set)
}

/// The HTTP client the flow uses.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout(TIMEOUT)
            .redirects(0)
            .user_agent(concat!("wallet-sim/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent }
    }

    fn get(&self, url: &str) -> Result<Value> {
        json_answer(url, self.agent.get(url).set("Accept", "application/json").call())
    }

    fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Value> {
        json_answer(url, self.agent.post(url).set("Accept", "application/json").send_form(form))
    }

    fn post_bearer(&self, url: &str, bearer: &str) -> Result<Value> {
        let auth = Zeroizing::new(format!("Bearer {bearer}"));
        json_answer(url, self.agent.post(url).set("Accept", "application/json").set("Authorization", &auth).call())
    }

    fn post_json(&self, url: &str, bearer: &str, body: &Value) -> Result<Value> {
        let auth = Zeroizing::new(format!("Bearer {bearer}"));
        json_answer(
            url,
            self.agent.post(url).set("Accept", "application/json").set("Authorization", &auth).send_json(body),
        )
    }
}

fn read_body(url: &str, resp: ureq::Response) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    resp.into_reader()
        .take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| Error::Transport { url: url.into(), detail: format!("{url}: {e}") })?;
    if body.len() as u64 > MAX_BODY {
        return Err(Error::Protocol { url: url.into(), detail: format!("response larger than {MAX_BODY} bytes") });
    }
    Ok(body)
}

/// Issuer text, made safe to print: no control characters, bounded length.
pub(crate) fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(MAX_MESSAGE).collect()
}

fn json_answer(url: &str, r: Result<ureq::Response, ureq::Error>) -> Result<Value> {
    match r {
        Ok(resp) if (200..300).contains(&resp.status()) => {
            let body = read_body(url, resp)?;
            match serde_json::from_slice::<Value>(&body) {
                Ok(v @ Value::Object(_)) => Ok(v),
                _ => Err(Error::Protocol { url: url.into(), detail: "response is not a JSON object".into() }),
            }
        }
        Ok(resp) => {
            Err(Error::Protocol { url: url.into(), detail: format!("unexpected HTTP status {}", resp.status()) })
        }
        Err(ureq::Error::Status(status, resp)) => {
            let body = read_body(url, resp).unwrap_or_default();
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let field = |k: &str| v.get(k).and_then(Value::as_str).map(printable);
            Err(Error::Issuer {
                url: url.into(),
                status,
                code: field("error").unwrap_or_else(|| "unknown_error".into()),
                message: field("message").or_else(|| field("error_description")).unwrap_or_default(),
            })
        }
        Err(e) => Err(Error::Transport { url: url.into(), detail: e.to_string() }),
    }
}

fn str_field<'v>(url: &str, v: &'v Value, name: &str) -> Result<&'v str> {
    v.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Protocol { url: url.into(), detail: format!("no {name} in the response") })
}

/// A bearer secret (pre-authorized code, transaction code, access token): zeroized on drop,
/// never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    fn new(s: &str) -> Self {
        Self(Zeroizing::new(s.to_owned()))
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Step 1: a parsed credential offer with a pre-authorized code.
#[derive(Debug, Clone)]
pub struct Offer {
    issuer: String,
    code: Secret,
    /// What the offer says about its transaction code, if it asks for one.
    tx_code: Option<oid4vci::TxCodeSpec>,
}

impl Offer {
    pub fn parse(uri: &str) -> Result<Self> {
        let offer = CredentialOffer::from_uri(uri.trim()).map_err(Error::Offer)?;
        if !offer.credential_configuration_ids.iter().any(|c| c == oid4vci::CONFIGURATION_ID) {
            return Err(Error::Offer("the offer is not for the level-2 foreign-resident credential"));
        }
        if !is_http_url(&offer.credential_issuer) {
            return Err(Error::Offer("credential_issuer must be an http(s) URL"));
        }
        let code = offer.pre_authorized_code().ok_or(Error::Offer("offer has no pre-authorized code"))?;
        Ok(Self { code: Secret::new(code), tx_code: offer.tx_code(), issuer: offer.credential_issuer })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// What the offer says about its transaction code, if it asks for one.
    pub fn tx_code(&self) -> Option<&oid4vci::TxCodeSpec> {
        self.tx_code.as_ref()
    }

    /// The transaction code to send: required when the offer asks for one (and then as it
    /// describes: digits for `numeric`, its length), refused when it does not.
    pub fn check_tx_code(&self, given: Option<&str>) -> Result<Option<Secret>> {
        let bad = |detail: String| Error::InvalidArgument { what: "transaction code", detail };
        match (&self.tx_code, given.map(str::trim).filter(|t| !t.is_empty())) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(bad("this offer does not ask for one; leave out --tx-code".into())),
            (Some(spec), None) => {
                let hint = spec.description.as_deref().map(printable).unwrap_or_default();
                Err(bad(format!("this offer needs the transaction code sent to you: give --tx-code. {hint}")))
            }
            (Some(spec), Some(t)) => {
                if spec.input_mode.as_deref().unwrap_or("numeric") == "numeric"
                    && !t.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(bad("it must be digits only".into()));
                }
                if spec.length.is_some_and(|n| t.chars().count() != n as usize) {
                    return Err(bad(format!("it must have {} characters", spec.length.unwrap_or_default())));
                }
                Ok(Some(Secret::new(t)))
            }
        }
    }

    /// Discovery (OpenID4VCI 1.0 section 12): `GET {credential_issuer}/.well-known/openid-credential-issuer`
    /// for the credential and nonce endpoints, then the authorization server's RFC 8414
    /// metadata (this issuer's own, as no `authorization_servers` are named) for the token
    /// endpoint.
    pub fn discover(self, http: &Http) -> Result<Discovered> {
        let base = self.issuer.trim_end_matches('/').to_owned();
        let url = format!("{base}/.well-known/openid-credential-issuer");
        let meta = http.get(&url)?;
        // OpenID4VCI 12.2.4: the metadata must name the issuer the offer named.
        if str_field(&url, &meta, "credential_issuer")?.trim_end_matches('/') != base {
            return Err(Error::Protocol { url, detail: "metadata is for another credential_issuer".into() });
        }
        let endpoint = |url: &str, doc: &Value, name: &str| -> Result<String> {
            let proto = |detail: String| Error::Protocol { url: url.to_owned(), detail };
            let e = str_field(url, doc, name)?;
            if !is_http_url(e) {
                return Err(proto(format!("{name} is not an absolute http(s) URL")));
            }
            // Never downgrade: an https issuer's endpoints are https too.
            if self.issuer.starts_with("https://") && !e.starts_with("https://") {
                return Err(proto(format!("{name} is not https")));
            }
            Ok(e.to_owned())
        };
        let credential_endpoint = endpoint(&url, &meta, "credential_endpoint")?;
        let nonce_endpoint = endpoint(&url, &meta, "nonce_endpoint")?;
        let auth_server = match meta.get("authorization_servers").and_then(Value::as_array) {
            None => base.clone(),
            Some(list) => {
                list.first().and_then(Value::as_str).map(|s| s.trim_end_matches('/').to_owned()).ok_or_else(|| {
                    Error::Protocol { url: url.clone(), detail: "authorization_servers is empty".into() }
                })?
            }
        };
        let as_url = format!("{auth_server}/.well-known/oauth-authorization-server");
        let as_meta = http.get(&as_url)?;
        // RFC 8414 section 3.3: the metadata must name the server it was fetched for.
        if str_field(&as_url, &as_meta, "issuer")?.trim_end_matches('/') != auth_server {
            return Err(Error::Protocol { url: as_url, detail: "metadata is for another issuer".into() });
        }
        Ok(Discovered {
            token_endpoint: endpoint(&as_url, &as_meta, "token_endpoint")?,
            credential_endpoint,
            nonce_endpoint,
            issuer: self.issuer,
            code: self.code,
        })
    }
}

/// Step 2: the issuer's endpoints are known.
#[derive(Debug, Clone)]
pub struct Discovered {
    issuer: String,
    code: Secret,
    token_endpoint: String,
    credential_endpoint: String,
    nonce_endpoint: String,
}

impl Discovered {
    /// Redeems the pre-authorized code (with the transaction code, if the offer asked for one)
    /// at the token endpoint.
    pub fn token(self, http: &Http, tx_code: Option<&Secret>) -> Result<Authorized> {
        let url = &self.token_endpoint;
        let mut form = vec![("grant_type", oid4vci::PRE_AUTH_GRANT), ("pre-authorized_code", self.code.expose())];
        if let Some(tx) = tx_code {
            form.push(("tx_code", tx.expose()));
        }
        let v = http.post_form(url, &form)?;
        let token_type = str_field(url, &v, "token_type")?;
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(Error::Protocol {
                url: url.clone(),
                detail: format!("token_type {} is not Bearer", printable(token_type)),
            });
        }
        Ok(Authorized {
            access_token: Secret::new(str_field(url, &v, "access_token")?),
            issuer: self.issuer,
            credential_endpoint: self.credential_endpoint,
            nonce_endpoint: self.nonce_endpoint,
        })
    }
}

/// Step 3: holding an access token.
#[derive(Debug)]
pub struct Authorized {
    issuer: String,
    credential_endpoint: String,
    nonce_endpoint: String,
    access_token: Secret,
}

impl Authorized {
    /// Takes a nonce from the Nonce Endpoint (sending the access token, so the nonce is this
    /// session's), proves possession of the device key over it (a `jwt` proof for the issuer,
    /// at `now`), fetches the credentials (`proofs`) and checks them (see [`check_received`]).
    pub fn credential(self, http: &Http, device: &DeviceKey, now: u64) -> Result<CredentialSet> {
        let n = http.post_bearer(&self.nonce_endpoint, self.access_token.expose())?;
        let nonce = str_field(&self.nonce_endpoint, &n, "c_nonce")?;
        let input = oid4vci::proof_signing_input(&device.public(), &self.issuer, now, nonce);
        let proof = verifier::build::jws::assemble(&input, &device.sign(input.as_bytes()));
        let body = json!({
            "credential_configuration_id": oid4vci::CONFIGURATION_ID,
            "proofs": {"jwt": [proof]},
        });
        let v = http.post_json(&self.credential_endpoint, self.access_token.expose(), &body)?;
        check_received(&self.credential_endpoint, &v, self.issuer, device, now)
    }
}

/// Checks a credential response before anything is stored: the SD-JWT VC and every QR
/// credential must be bound to `device`, each QR credential must decode and carry the purpose
/// it is filed under, and none may be expired already. Issuer signatures are not checked: the
/// wallet has no trust list (a verifier will reject a forgery).
pub fn check_received(url: &str, v: &Value, issuer: String, device: &DeviceKey, now: u64) -> Result<CredentialSet> {
    let me = device.public();
    let proto = |detail: &str| Error::Protocol { url: url.into(), detail: detail.into() };
    let sd_jwt = v
        .get("credentials")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|c| c.get("credential"))
        .and_then(Value::as_str)
        .ok_or_else(|| proto("no credentials[0].credential in the response"))?;
    let view = crate::sdjwt::parse(sd_jwt).map_err(|e| Error::Rejected(format!("SD-JWT VC: {e}")))?;
    if view.holder != me {
        return Err(Error::Rejected("the SD-JWT VC is bound to another device key".into()));
    }
    if view.expires_at.is_some_and(|exp| exp <= now) {
        return Err(Error::Rejected("the SD-JWT VC has already expired".into()));
    }

    let map = v
        .get("qr_credentials")
        .and_then(Value::as_object)
        .ok_or_else(|| proto("no qr_credentials object in the response"))?;
    if map.is_empty() {
        return Err(proto("qr_credentials is empty"));
    }
    let mut qr = BTreeMap::new();
    for (name, value) in map {
        // Parsed exactly as sent (control characters included), printed cleaned.
        let purpose: Purpose =
            name.parse().map_err(|e: &str| Error::Rejected(format!("QR credential {}: {e}", printable(name))))?;
        let reject = |d: &str| Error::Rejected(format!("{purpose} QR credential: {d}"));
        let b64 = value.as_str().ok_or_else(|| reject("not a string"))?;
        let bytes = B64.decode(b64).map_err(|_| reject("not base64url"))?;
        let (_, cred) = decode_qr_credential(&bytes).map_err(|r| reject(&r.to_string()))?;
        if cred.holder != me {
            return Err(reject("bound to another device key"));
        }
        if cred.purpose != purpose {
            return Err(reject(&format!("issued for {}", cred.purpose)));
        }
        if cred.expires_at <= now {
            return Err(reject("already expired"));
        }
        qr.insert(purpose, StoredQr::new(bytes, cred.expires_at));
    }
    if let Some(missing) = Purpose::ALL.iter().find(|p| !qr.contains_key(*p)) {
        return Err(Error::Rejected(format!("the issuer sent no {missing} QR credential")));
    }
    Ok(CredentialSet::new(issuer, now, sd_jwt.to_owned(), qr))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use ed25519_dalek::{Signer as _, SigningKey};
    use verifier::build::qr::{CardKind, PersonClaims, QrCredential, Sex, StatusRef};
    use verifier::build::sdjwt::SdJwtBuilder;
    use verifier::{Date, KeyId, PublicKey};

    use super::*;

    pub(crate) const NOW: u64 = 1_790_000_000;
    pub(crate) const YEAR: u64 = 365 * 86_400;

    pub(crate) fn issuer_key() -> SigningKey {
        SigningKey::from_bytes(&[42; 32])
    }

    pub(crate) fn kid() -> KeyId {
        KeyId::try_from(&[0xA1, 0x02, 0x03][..]).unwrap()
    }

    pub(crate) fn kim() -> PersonClaims {
        PersonClaims {
            name: Some("김민준".into()),
            name_latin: Some("KIM MIN JUN".into()),
            birth_date: Date::from_ymd(1990, 3, 15),
            sex: Some(Sex::M),
            nationality: Some("KOR".into()),
            passport_number: Some("M12345678".into()),
            residence_card_number: Some("TRC0123456789".into()),
            residence_card_kind: Some(CardKind::Temporary),
            residence_card_expiry: Date::from_ymd(2028, 6, 30),
            address: Some("Số 12 Nguyễn Huệ, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh".into()),
            eid_number: Some("079190001234".into()),
            age_over_18: Some(true),
            shortened: Vec::new(),
        }
    }

    /// A signed QR credential of `person` for `purpose`, bound to `holder`.
    pub(crate) fn sample_qr_of(
        issuer: &SigningKey,
        holder: &PublicKey,
        purpose: Purpose,
        idx: u64,
        person: &PersonClaims,
    ) -> Vec<u8> {
        let cred = QrCredential {
            purpose,
            level: 2,
            issued_at: NOW - 60,
            expires_at: NOW + YEAR,
            holder: *holder,
            status: Some(StatusRef { list: 1, idx }),
            claims: person.restrict_to(purpose),
        };
        let unsigned = cred.to_sign1(&kid());
        let sig = issuer.sign(&unsigned.to_be_signed()).to_bytes();
        unsigned.finish(&sig)
    }

    pub(crate) fn sample_sd_jwt(issuer: &SigningKey, holder: &PublicKey) -> String {
        let claims = serde_json::to_value(kim()).unwrap();
        let mut b = SdJwtBuilder::new(&kid(), "http://issuer.test", NOW - 60, NOW + YEAR, holder)
            .status("http://issuer.test/status/1", 77);
        for (i, (name, value)) in claims.as_object().unwrap().iter().enumerate() {
            b = b.disclosable(&[i as u8; 16], name, value.clone());
        }
        let input = b.signing_input();
        let sig = issuer.sign(input.as_bytes()).to_bytes();
        b.finish(&input, &sig)
    }

    pub(crate) fn credential_response(issuer: &SigningKey, holder: &PublicKey) -> Value {
        credential_response_of(issuer, holder, &kim())
    }

    fn credential_response_of(issuer: &SigningKey, holder: &PublicKey, person: &PersonClaims) -> Value {
        let qr: serde_json::Map<String, Value> = Purpose::ALL
            .iter()
            .map(|p| {
                let cred = sample_qr_of(issuer, holder, *p, 1_000_000 + p.code(), person);
                (p.as_str().to_owned(), json!(B64.encode(cred)))
            })
            .collect();
        json!({"credentials": [{"credential": sample_sd_jwt(issuer, holder)}], "qr_credentials": qr})
    }

    pub(crate) fn sample_set(device: &DeviceKey) -> CredentialSet {
        sample_set_of(device, &kim())
    }

    /// What the wallet stores after receiving `person`'s credentials.
    pub(crate) fn sample_set_of(device: &DeviceKey, person: &PersonClaims) -> CredentialSet {
        let v = credential_response_of(&issuer_key(), &device.public(), person);
        check_received("test", &v, "http://issuer.test".into(), device, NOW).unwrap()
    }

    /// An applicant at the limits enrollment accepts: names of 150 characters, an address of
    /// 300 with Vietnamese diacritics, 20-character document numbers.
    pub(crate) fn longest() -> PersonClaims {
        let fill = |unit: &str, n: usize| unit.chars().cycle().take(n).collect::<String>();
        PersonClaims {
            name: Some(fill("김민준", 150)),
            name_latin: Some(fill("PHILIPPA NGUYEN THI LAN ANH ", 150).trim_end().to_owned()),
            passport_number: Some("P1234567890123456789".into()),
            residence_card_number: Some("TRC12345678901234567".into()),
            address: Some(fill("Căn hộ 12.05, Tầng 12, Tòa nhà Saigon Pearl, Số 92 Đường Nguyễn Hữu Cảnh, ", 300)),
            ..kim()
        }
    }

    /// How the fake issuer misbehaves.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Honest,
        RefuseToken,
        /// Issues credentials bound to a key other than the one in the proof.
        OtherHolder,
    }

    #[derive(Debug)]
    struct Seen {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: String,
    }

    /// A tiny HTTP/1.1 issuer on 127.0.0.1, serving one request per connection for at most
    /// ten seconds. Returns its base URL and the requests it saw.
    fn fake_issuer(mode: Mode) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (base, log) = (url.clone(), seen.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut served = 0;
            while Instant::now() < deadline && served < 5 {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        if !handle(stream, &base, mode, &log) {
                            break;
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        (url, seen)
    }

    /// Serves one request; false when the flow ends here.
    fn handle(stream: TcpStream, base: &str, mode: Mode, log: &Mutex<Vec<Seen>>) -> bool {
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len.min(1 << 20)];
        std::io::Read::read_exact(&mut r, &mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());

        let (status, answer, more) = match (method.as_str(), path.as_str()) {
            ("GET", "/.well-known/openid-credential-issuer") => (
                200,
                json!({"credential_issuer": base, "credential_endpoint": format!("{base}/credential"),
                       "nonce_endpoint": format!("{base}/nonce")}),
                true,
            ),
            ("GET", "/.well-known/oauth-authorization-server") => {
                (200, json!({"issuer": base, "token_endpoint": format!("{base}/token")}), true)
            }
            ("POST", "/nonce") => {
                assert_eq!(
                    header("authorization").as_deref(),
                    Some("Bearer tok-123"),
                    "the nonce is asked in the session"
                );
                (200, json!({"c_nonce": "nonce-1"}), true)
            }
            ("POST", "/token") if mode == Mode::RefuseToken => {
                (400, json!({"error": "invalid_grant", "message": "pre-authorized code already used\u{1b}[2J"}), false)
            }
            ("POST", "/token") => {
                let ok = body == "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Apre-authorized_code&pre-authorized_code=c%C3%B3de+%2B%26%3D1&tx_code=123456";
                if ok {
                    (200, json!({"access_token": "tok-123", "token_type": "Bearer", "expires_in": 300}), true)
                } else {
                    (400, json!({"error": "invalid_request", "message": body}), false)
                }
            }
            ("POST", "/credential") => {
                let v: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(header("authorization").as_deref(), Some("Bearer tok-123"));
                assert_eq!(v["credential_configuration_id"], oid4vci::CONFIGURATION_ID);
                assert!(v.get("proof").is_none(), "1.0: proofs only");
                assert_eq!(v["proofs"]["jwt"].as_array().map(Vec::len), Some(1));
                match oid4vci::verify_proof(v["proofs"]["jwt"][0].as_str().unwrap(), base, "nonce-1", NOW, 300) {
                    Ok(holder) => {
                        let holder =
                            if mode == Mode::OtherHolder { DeviceKey::from_seed(&[9; 32]).public() } else { holder };
                        (200, credential_response(&issuer_key(), &holder), false)
                    }
                    Err(e) => (400, json!({"error": "invalid_proof", "message": e.to_string()}), false),
                }
            }
            _ => (404, json!({"error": "not_found", "message": path}), false),
        };
        log.lock().unwrap().push(Seen { method, path, headers, body });
        let body = answer.to_string();
        let mut s = stream;
        write!(
            s,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        s.flush().unwrap();
        more
    }

    fn offer(url: &str) -> String {
        let tx = oid4vci::TxCodeSpec::numeric(6, "sent by SMS");
        CredentialOffer::pre_authorized_with_tx_code(url, "códe +&=1", &tx).to_uri()
    }

    const TX: Option<&str> = Some("123456");

    #[test]
    fn receives_checks_and_stores_the_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        let (device, _) = w.init().unwrap();
        let (url, seen) = fake_issuer(Mode::Honest);
        let set = receive(&w, &offer(&url), TX, NOW).unwrap();
        assert_eq!(set.issuer(), url);
        assert_eq!(set.received_at(), NOW);
        assert_eq!(set.qr_all().map(|(p, _)| p).collect::<Vec<_>>(), Purpose::ALL.to_vec());
        for (_, q) in set.qr_all() {
            assert_eq!(q.decode().unwrap().1.holder, device.public());
            assert_eq!(q.expires_at(), NOW + YEAR);
        }
        assert_eq!(crate::sdjwt::parse(set.sd_jwt()).unwrap().holder, device.public());
        assert_eq!(w.credentials().unwrap().unwrap(), set);

        let seen = seen.lock().unwrap();
        let paths: Vec<_> = seen.iter().map(|s| format!("{} {}", s.method, s.path)).collect();
        assert_eq!(
            paths,
            [
                "GET /.well-known/openid-credential-issuer",
                "GET /.well-known/oauth-authorization-server",
                "POST /token",
                "POST /nonce",
                "POST /credential"
            ]
        );
        let ct = |i: usize| seen[i].headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.clone());
        assert_eq!(ct(2).as_deref(), Some("application/x-www-form-urlencoded"));
        assert!(ct(4).is_some_and(|c| c.starts_with("application/json")));
        assert!(seen[2].body.contains("pre-authorized_code=") && seen[2].body.contains("tx_code=123456"));

        // Receiving again replaces the set.
        let (url2, _) = fake_issuer(Mode::Honest);
        let again = receive(&w, &offer(&url2), TX, NOW + 10).unwrap();
        assert_eq!(w.credentials().unwrap().unwrap(), again);
        assert_eq!(again.issuer(), url2);
    }

    #[test]
    fn issuer_errors_are_reported_and_nothing_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        w.init().unwrap();
        let (url, _) = fake_issuer(Mode::RefuseToken);
        match receive(&w, &offer(&url), TX, NOW) {
            Err(Error::Issuer { status: 400, code, message, .. }) => {
                assert_eq!(code, "invalid_grant");
                assert_eq!(message, "pre-authorized code already used[2J", "control characters are stripped");
            }
            other => panic!("{other:?}"),
        }
        assert!(w.credentials().unwrap().is_none());
    }

    #[test]
    fn credentials_for_another_device_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        w.init().unwrap();
        let (url, _) = fake_issuer(Mode::OtherHolder);
        let e = receive(&w, &offer(&url), TX, NOW).unwrap_err();
        assert!(matches!(&e, Error::Rejected(d) if d.contains("another device key")), "{e}");
        assert!(!e.is_usage());
        assert!(w.credentials().unwrap().is_none());
    }

    #[test]
    fn the_transaction_code_is_checked_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        w.init().unwrap();
        // Port 1: nothing listens, so a request would be a transport error, not these.
        let uri = offer("http://127.0.0.1:1");
        for (tx, why) in
            [(None, "needs the transaction code"), (Some("12345"), "6 characters"), (Some("12a456"), "digits")]
        {
            let e = receive(&w, &uri, tx, NOW).unwrap_err();
            assert!(e.is_usage() && e.to_string().contains(why), "{tx:?}: {e}");
        }
        let plain = CredentialOffer::pre_authorized("http://127.0.0.1:1", "c").to_uri();
        let e = receive(&w, &plain, TX, NOW).unwrap_err();
        assert!(e.is_usage() && e.to_string().contains("does not ask"), "{e}");
        assert!(matches!(receive(&w, &plain, None, NOW), Err(Error::Transport { .. })));
    }

    #[test]
    fn unreachable_issuer_and_bad_offers() {
        let dir = tempfile::tempdir().unwrap();
        let w = Wallet::new(dir.path());
        assert!(matches!(receive(&w, &offer("http://127.0.0.1:1"), TX, NOW), Err(Error::NotInitialized(_))));
        w.init().unwrap();
        // Port 1 on loopback: connection refused.
        assert!(matches!(receive(&w, &offer("http://127.0.0.1:1"), TX, NOW), Err(Error::Transport { .. })));
        assert!(matches!(receive(&w, "https://example.com", TX, NOW), Err(Error::Offer(_))));
        assert!(matches!(receive(&w, &offer("file:///etc"), TX, NOW), Err(Error::Offer(_))));
    }

    #[test]
    fn received_credentials_are_checked() {
        let device = DeviceKey::from_seed(&[3; 32]);
        let good = credential_response(&issuer_key(), &device.public());
        let check = |v: &Value| check_received("t", v, "http://i".into(), &device, NOW);
        assert!(check(&good).is_ok());

        // A QR credential filed under another purpose.
        let mut v = good.clone();
        v["qr_credentials"]["landlord"] = good["qr_credentials"]["bank"].clone();
        assert!(matches!(check(&v), Err(Error::Rejected(d)) if d.contains("issued for bank")));
        // An unknown purpose, bytes that are not a COSE_Sign1, a missing SD-JWT.
        let mut v = good.clone();
        v["qr_credentials"]["pharmacy"] = good["qr_credentials"]["bank"].clone();
        assert!(matches!(check(&v), Err(Error::Rejected(_))));
        let mut v = good.clone();
        v["qr_credentials"]["bank"] = json!("AAAA");
        assert!(matches!(check(&v), Err(Error::Rejected(_))));
        let mut v = good.clone();
        v["credentials"] = json!([]);
        assert!(matches!(check(&v), Err(Error::Protocol { .. })));
        // A purpose missing, or a purpose name with a control character in it.
        let mut v = good.clone();
        v["qr_credentials"].as_object_mut().unwrap().remove("residence-office");
        assert!(matches!(check(&v), Err(Error::Rejected(d)) if d.contains("no residence-office")));
        let mut v = good.clone();
        let bank = v["qr_credentials"].as_object_mut().unwrap().remove("bank").unwrap();
        v["qr_credentials"]["bank\u{7}"] = bank;
        assert!(matches!(check(&v), Err(Error::Rejected(_))));
        // Already expired when received.
        assert!(matches!(
            check_received("t", &good, "http://i".into(), &device, NOW + 2 * YEAR),
            Err(Error::Rejected(_))
        ));
    }
}
