#!/usr/bin/env python3
"""An independent re-implementation of the verifier rules in docs/formats.md, run against the
test vectors in verifier/testdata/. It exists to check the document, not to be used.

    pip install cryptography   # Ed25519
    python3 docs/tools/check_vectors.py

Differences from the Rust reference, on purpose kept small: Ed25519 uses `cryptography`
(RFC 8032 verification, not ed25519-dalek's verify_strict), and the CBOR reader below is only
as strict as the vectors need (docs/formats.md lists the full strictness rules).
"""
import base64
import hashlib
import json
import os
import sys
import zlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, os.path.dirname(__file__))
from qr_annotate import b45decode  # noqa: E402

TESTDATA = os.path.join(os.path.dirname(__file__), "../../verifier/testdata")
DAY = 86400


def policy(verifier):
    """The defaults by kind of verifier (docs/formats.md §2.8, `Policy::for_verifier`)."""
    return dict(max_window=120, clock_skew=30, trust_list_grace=30 * DAY, require_status=True,
                max_status_age=7 * DAY if verifier == "landlord" else DAY, status_warn_age=DAY)



PURPOSE_CODE = {"landlord": 1, "bank": 2, "residence-office": 3}
PURPOSE_CLAIMS = {
    1: {10, 14, 17, 18, 21},
    2: {10, 12, 14, 15, 16, 18, 20},
    3: {11, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20},
}


class Reject(Exception):
    """Invalid: the proof was checked and is not acceptable."""


class Undecided(Exception):
    """Cannot decide: the verifier's own trust material is too old or incomplete."""


SHORTENABLE = (10, 11, 19)  # name_latin, name, address


def b64d(s):
    if "=" in s or "+" in s or "/" in s:
        raise Reject("malformed")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def ed_verify(pub, msg, sig):
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


# ---- minimal strict CBOR reader -----------------------------------------------------------
class R:
    def __init__(self, b):
        self.b, self.p = b, 0

    def head(self):
        if self.p >= len(self.b):
            raise Reject("malformed")
        x = self.b[self.p]
        self.p += 1
        major, info = x >> 5, x & 31
        if info < 24:
            return major, info
        if info > 27:
            raise Reject("malformed")
        n = 1 << (info - 24)
        if self.p + n > len(self.b):
            raise Reject("malformed")
        v = int.from_bytes(self.b[self.p:self.p + n], "big")
        self.p += n
        return major, v

    def expect(self, m):
        major, v = self.head()
        if major != m:
            raise Reject("malformed")
        return v

    def uint(self):
        return self.expect(0)

    def int(self):
        major, v = self.head()
        if major == 0:
            return v
        if major == 1:
            return -1 - v
        raise Reject("malformed")

    def bytes(self, major=2):
        n = self.expect(major)
        if self.p + n > len(self.b):
            raise Reject("malformed")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def text(self):
        try:
            return self.bytes(3).decode("utf-8")
        except UnicodeDecodeError:
            raise Reject("malformed")

    def bool(self):
        x = self.b[self.p:self.p + 1]
        self.p += 1
        if x == b"\xf5":
            return True
        if x == b"\xf4":
            return False
        raise Reject("malformed")

    def finish(self):
        if self.p != len(self.b):
            raise Reject("malformed")


def sig_structure(protected, payload):
    def bstr(b):
        n = len(b)
        if n < 24:
            h = bytes([0x40 | n])
        elif n < 256:
            h = bytes([0x58, n])
        else:
            h = bytes([0x59]) + n.to_bytes(2, "big")
        return h + b
    return b"\x84" + b"\x6aSignature1" + bstr(protected) + b"\x40" + bstr(payload)


def cbor_uint(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")


def holder_input(cred, purpose, t, d, challenge):
    return (b"\x86" + cbor_uint(3, 10) + b"VN1-holder" + cbor_uint(2, len(cred)) + cred
            + cbor_uint(0, purpose) + cbor_uint(0, t) + cbor_uint(0, d) + cbor_uint(2, len(challenge)) + challenge)


# ---- trust store ----------------------------------------------------------------------------
def verify_jws(compact, pub=None):
    parts = compact.split(".")
    if len(parts) != 3:
        raise Reject("malformed")
    header = json.loads(b64d(parts[0]))
    if header.get("alg") != "EdDSA" or "crit" in header:
        raise Reject("malformed")
    payload = b64d(parts[1])
    sig = b64d(parts[2])
    if len(sig) != 64:
        raise Reject("malformed")
    ok = None if pub is None else ed_verify(pub, (parts[0] + "." + parts[1]).encode(), sig)
    return header, payload, ok, (parts[0] + "." + parts[1]).encode(), sig


def load_store():
    b = json.load(open(os.path.join(TESTDATA, "bundle.json")))
    assert b["format"] == "vneid-verifier-bundle/1"
    root = b64d(b["root_key"])
    h, p, ok, _, _ = verify_jws(b["trust_list"], root)
    assert ok and h["typ"] == "vneid-trust-list+jwt", "trust list"
    tl = json.loads(p)
    assert tl["v"] == 1
    keys = {k["kid"]: k for k in tl["keys"]}
    lists = {}
    for sid, tok in b["status_lists"].items():
        sid = int(sid)
        uri = next(s["uri"] for s in tl["status_lists"] if s["id"] == sid)
        h, p, _, si, sig = verify_jws(tok)
        assert h["typ"] == "statuslist+jwt"
        k = keys[h["kid"]]
        assert k["state"] != "revoked" and ed_verify(b64d(k["x"]), si, sig), "status list signature"
        c = json.loads(p)
        assert c["sub"] == uri
        assert k["sign_from"] <= c["iat"] <= k["sign_until"], "status list iat in the key's signing period"
        assert c["iat"] < c["exp"] <= k["valid_until"], "status list exp"
        lists[sid] = dict(bits=c["status_list"]["bits"], bytes=zlib.decompress(b64d(c["status_list"]["lst"])),
                          iat=c["iat"], exp=c["exp"])
    return tl, keys, lists


def issuer_key(tl, keys, kid, iat, now, pol):
    stale = now > tl["next_update"] + pol["trust_list_grace"]
    k = keys.get(kid)
    if k is None:
        raise Undecided("trust_list_stale") if stale else Reject("unknown_key")
    if k["state"] == "revoked":  # final, even in a stale list
        raise Reject("key_revoked")
    if stale:
        raise Undecided("trust_list_stale")
    if iat < k["sign_from"] or iat > k["sign_until"] or now > k["valid_until"]:
        raise Reject("key_not_valid")
    return b64d(k["x"])


def check_status(lists, sid, idx, now, pol):
    """Returns the warnings; raises Reject or Undecided."""
    sl = lists.get(sid)
    if sl is None:
        if pol["require_status"]:
            raise Undecided("status_unknown")
        return []
    bit = idx * sl["bits"]
    if bit // 8 >= len(sl["bytes"]):
        raise Reject("malformed")
    v = (sl["bytes"][bit // 8] >> (bit % 8)) & ((1 << sl["bits"]) - 1)
    if v not in (0, 2):  # 1 revoked, anything undefined read as revoked; final however old
        raise Reject("revoked")
    age = max(0, now - sl["iat"])
    if now > sl["exp"] or age > pol["max_status_age"]:
        if pol["require_status"]:
            raise Undecided("status_stale")
        return []
    if v == 2:
        raise Reject("suspended")
    return ["status_stale"] if age > pol["status_warn_age"] else []


# ---- QR ------------------------------------------------------------------------------------
def verify_qr(store, text, purpose, now, challenge, pol):
    tl, keys, lists = store
    text = text.rstrip("\r\n")
    if len(text) > 4296 or not text.startswith("VN1:"):
        raise Reject("malformed")
    try:
        raw = b45decode(text[4:])
    except ValueError:
        raise Reject("malformed")
    r = R(raw)
    if r.expect(4) != 4:
        raise Reject("malformed")
    start = r.p
    if r.expect(6) != 18 or r.expect(4) != 4:
        raise Reject("malformed")
    protected = r.bytes()
    if r.expect(5) != 0:
        raise Reject("malformed")
    payload = r.bytes()
    isig = r.bytes()
    cred_bytes = raw[start:r.p]
    if len(isig) != 64:
        raise Reject("malformed")
    h = R(protected)
    hdr = {}
    for _ in range(h.expect(5)):
        k = h.int()
        if k in hdr or k not in (1, 4):
            raise Reject("malformed")
        hdr[k] = h.int() if k == 1 else h.bytes()
    h.finish()
    if hdr.get(1) != -8 or not (1 <= len(hdr.get(4, b"")) <= 8):
        raise Reject("malformed")
    kid = b64e(hdr[4])
    cwt = decode_payload(payload)
    t, d, hsig = r.uint(), r.uint(), r.bytes()
    r.finish()
    if len(hsig) != 64:
        raise Reject("malformed")
    if len(challenge) > 64:
        raise Reject("malformed")
    key = issuer_key(tl, keys, kid, cwt["iat"], now, pol)
    if not ed_verify(key, sig_structure(protected, payload), isig):
        raise Reject("bad_signature")
    skew = pol["clock_skew"]
    if now > cwt["exp"]:
        raise Reject("expired")
    if cwt["iat"] > now + skew:
        raise Reject("not_yet_valid")
    if purpose is not None and PURPOSE_CODE[purpose] != cwt["purpose"]:
        raise Reject("wrong_purpose")
    if not ed_verify(cwt["holder"], holder_input(cred_bytes, cwt["purpose"], t, d, challenge), hsig):
        raise Reject("bad_holder_signature")
    if t > now + skew:
        raise Reject("presentation_not_yet_valid")
    if now > t + min(d, pol["max_window"]):
        raise Reject("presentation_expired")
    warnings = ["trust_list_due"] if now > tl["next_update"] else []
    if cwt["status"] is not None:
        warnings += check_status(lists, cwt["status"][0], cwt["status"][1], now, pol)
    elif pol["require_status"]:
        raise Undecided("status_unknown")
    return cwt, sorted(warnings)


def decode_payload(payload):
    r = R(payload)
    out = {}
    for _ in range(r.expect(5)):
        k = r.int()
        if k in out:
            raise Reject("malformed")
        if k in (4, 6):
            out[k] = r.uint()
        elif k == 8:
            if r.expect(5) != 1 or r.int() != 1:
                raise Reject("malformed")
            ck = {}
            for _ in range(r.expect(5)):
                a = r.int()
                if a in ck or a not in (1, -1, -2):
                    raise Reject("malformed")
                ck[a] = r.bytes() if a == -2 else r.int()
            if ck.get(1) != 1 or ck.get(-1) != 6 or len(ck.get(-2, b"")) != 32:
                raise Reject("malformed")
            out[k] = ck[-2]
        elif k == -65537:
            inner = {}
            for _ in range(r.expect(5)):
                a = r.int()
                if a in inner:
                    raise Reject("malformed")
                if a == 0:
                    inner[a] = r.uint()
                elif a == 1:
                    if r.expect(4) != 2:
                        raise Reject("malformed")
                    inner[a] = (r.uint(), r.uint())
                elif a == 2:
                    inner[a] = r.uint()
                elif a in (12, 18):
                    inner[a] = r.int()
                elif a in (13, 17):
                    inner[a] = r.uint()
                elif a == 21:
                    inner[a] = r.bool()
                elif 10 <= a <= 20:
                    inner[a] = r.text()
                elif a == 22:  # the claims shortened to fit: 1 to 3 of 10, 11, 19, ascending
                    n = r.expect(4)
                    keys_ = [r.int() for _ in range(n)]
                    if not 1 <= n <= 3 or any(k not in SHORTENABLE for k in keys_) or keys_ != sorted(set(keys_)):
                        raise Reject("malformed")
                    inner[a] = keys_
                else:
                    raise Reject("malformed")
            out[k] = inner
        else:
            raise Reject("malformed")
    r.finish()
    if set(out) != {4, 6, 8, -65537} or 0 not in out[-65537] or 2 not in out[-65537]:
        raise Reject("malformed")
    inner = out[-65537]
    if inner[0] not in PURPOSE_CLAIMS:
        raise Reject("malformed")
    if any(10 <= k <= 21 and k not in PURPOSE_CLAIMS[inner[0]] for k in inner):
        raise Reject("malformed")
    if any(k not in inner for k in inner.get(22, [])):
        raise Reject("malformed")
    return dict(exp=out[4], iat=out[6], holder=out[8], purpose=inner[0], status=inner.get(1), level=inner[2],
                claims={k: v for k, v in inner.items() if 10 <= k <= 21}, shortened=inner.get(22, []))


# ---- SD-JWT VC -----------------------------------------------------------------------------
RESERVED = {"iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd", "_sd_alg", "..."}


def verify_sd_jwt(store, sd_jwt, now, pol):
    tl, keys, lists = store
    parts = sd_jwt.split("~")
    jwt, discs = parts[0], parts[1:]
    kb = discs.pop() if discs else ""
    h, p, _, si, sig = verify_jws(jwt)
    if h.get("typ") not in ("dc+sd-jwt", "vc+sd-jwt"):
        raise Reject("malformed")
    payload = json.loads(p)
    key = issuer_key(tl, keys, h["kid"], payload["iat"], now, pol)
    if not ed_verify(key, si, sig):
        raise Reject("bad_signature")
    if now > payload["exp"]:
        raise Reject("expired")
    if payload["iat"] > now + pol["clock_skew"]:
        raise Reject("not_yet_valid")
    if payload.get("_sd_alg") != "sha-256":
        raise Reject("malformed")
    st = payload.get("status", {}).get("status_list")
    if st is not None:
        sid = next((s["id"] for s in tl["status_lists"] if s["uri"] == st["uri"]), None)
        if sid is None:
            raise Undecided("status_unknown")
        check_status(lists, sid, st["idx"], now, pol)
    elif pol["require_status"]:
        raise Undecided("status_unknown")
    sd = payload.get("_sd", [])
    claims = {k: v for k, v in payload.items() if k not in RESERVED}
    seen = set()
    for d in discs:
        dg = b64e(hashlib.sha256(d.encode()).digest())
        if dg not in sd or dg in seen:
            raise Reject("malformed")
        seen.add(dg)
        salt, name, value = json.loads(b64d(d))
        if name in RESERVED or name in claims:
            raise Reject("malformed")
        claims[name] = value
    return claims, kb


def judge(f):
    """(outcome, reason or "valid", warnings) of a verification."""
    try:
        return ("valid", "valid", f())
    except Reject as e:
        return ("invalid", str(e), [])
    except Undecided as e:
        return ("cannot_decide", str(e), [])


def main():
    store = load_store()
    fails = 0
    n = 0
    for c in json.load(open(os.path.join(TESTDATA, "qr-cases.json"))):
        pol = policy(c["verifier"])
        got = judge(lambda: verify_qr(store, c["text"], c["purpose"], c["now"], bytes.fromhex(c["challenge"]), pol)[1])
        want = (c["outcome"], c["expect"], c["warnings"])
        ok = got == want
        fails += not ok
        n += 1
        print(f"{'ok ' if ok else 'BAD'} qr     {c['name']:<34} expect={'/'.join(map(str, want)):<40} got={'/'.join(map(str, got))}")
    for c in json.load(open(os.path.join(TESTDATA, "sd-jwt-cases.json"))):
        pol = policy(c["verifier"])

        def disclosed():
            claims, _ = verify_sd_jwt(store, c["sd_jwt"], c["now"], pol)
            return [] if len(claims) - 1 == c["disclosed"] else [f"{len(claims) - 1} disclosed"]
        got = judge(disclosed)
        want = (c["outcome"], c["expect"], [])
        ok = got == want
        fails += not ok
        n += 1
        print(f"{'ok ' if ok else 'BAD'} sd-jwt {c['name']:<34} expect={'/'.join(map(str, want)):<40} got={'/'.join(map(str, got))}")
    print(f"{n - fails} of {n} cases agree")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
