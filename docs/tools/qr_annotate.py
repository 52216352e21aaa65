#!/usr/bin/env python3
"""Annotate a VN1: QR proof byte by byte (docs/formats.md, section 2).

Usage:
    python3 docs/tools/qr_annotate.py [CASE] [--cases verifier/testdata/qr-cases.json]
    python3 docs/tools/qr_annotate.py --text 'VN1:...'

Standard library only. It decodes the text (prefix, base45), walks every CBOR item with its
offset, and prints a table: offset, bytes, meaning. Then it prints the byte budget of the
presentation. It does not verify signatures (see check_vectors.py for that).
"""
import argparse
import json
import os
import sys

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
PREFIX = "VN1:"


def b45decode(s: str) -> bytes:
    out = bytearray()
    for i in range(0, len(s), 3):
        chunk = s[i:i + 3]
        v = [ALPHABET.index(c) for c in chunk]
        if len(v) == 3:
            n = v[0] + v[1] * 45 + v[2] * 2025
            if n > 0xFFFF:
                raise ValueError("base45 triplet > 65535")
            out += bytes([n >> 8, n & 0xFF])
        elif len(v) == 2:
            n = v[0] + v[1] * 45
            if n > 0xFF:
                raise ValueError("base45 pair > 255")
            out.append(n)
        else:
            raise ValueError("dangling base45 character")
    return bytes(out)


class Item:
    """One CBOR data item: where its head is, what it is, its children."""

    def __init__(self, off, head_len, major, arg, raw):
        self.off, self.head_len, self.major, self.arg, self.raw = off, head_len, major, arg, raw
        self.children = []  # for arrays/maps/tags
        self.end = None

    @property
    def value(self):
        if self.major == 0:
            return self.arg
        if self.major == 1:
            return -1 - self.arg
        if self.major == 2:
            return self.raw[self.off + self.head_len:self.end]
        if self.major == 3:
            return self.raw[self.off + self.head_len:self.end].decode("utf-8")
        if self.major == 7:
            return {20: False, 21: True, 22: None}[self.arg]
        return None


def parse(raw, off=0):
    b = raw[off]
    major, info = b >> 5, b & 0x1F
    if major == 7:
        if b not in (0xF4, 0xF5, 0xF6):
            raise ValueError(f"unsupported simple/float 0x{b:02x} at {off}")
        it = Item(off, 1, 7, info, raw)
        it.end = off + 1
        return it
    if info < 24:
        arg, hl = info, 1
    elif info in (24, 25, 26, 27):
        n = 1 << (info - 24)
        arg, hl = int.from_bytes(raw[off + 1:off + 1 + n], "big"), 1 + n
    else:
        raise ValueError(f"indefinite length / reserved at {off}")
    it = Item(off, hl, major, arg, raw)
    p = off + hl
    if major in (2, 3):
        p += arg
    elif major == 4:
        for _ in range(arg):
            c = parse(raw, p)
            it.children.append(c)
            p = c.end
    elif major == 5:
        for _ in range(2 * arg):
            c = parse(raw, p)
            it.children.append(c)
            p = c.end
    elif major == 6:
        c = parse(raw, p)
        it.children.append(c)
        p = c.end
    it.end = p
    return it


MAJOR = {0: "uint", 1: "nint", 2: "bstr", 3: "tstr", 4: "array", 5: "map", 6: "tag", 7: "simple"}
PURPOSES = {1: "landlord", 2: "bank", 3: "residence-office"}
CLAIMS = {
    10: ("name_latin", "tstr"), 11: ("name", "tstr"), 12: ("birth_date", "days"), 13: ("sex", "iso5218"),
    14: ("nationality", "tstr"), 15: ("passport_number", "tstr"), 16: ("residence_card_number", "tstr"),
    17: ("residence_card_kind", "kind"), 18: ("residence_card_expiry", "days"), 19: ("address", "tstr"),
    20: ("eid_number", "tstr"), 21: ("age_over_18", "bool"),
}


def days_to_date(z):
    import datetime
    return (datetime.date(1970, 1, 1) + datetime.timedelta(days=z)).isoformat()


def utc(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Annotator:
    def __init__(self, raw):
        self.raw = raw
        self.rows = []  # (offset, hex, depth, text)

    def head(self, it, depth, text, with_content=False):
        end = it.end if with_content else it.off + it.head_len
        hx = self.raw[it.off:end].hex()
        self.rows.append((it.off, hx, depth, text))

    def content(self, it, depth, text):
        """Byte/text string: head row, then the content on its own row."""
        kind = MAJOR[it.major]
        self.head(it, depth, f"{kind}({it.arg})")
        start = it.off + it.head_len
        if it.arg:
            self.rows.append((start, self.raw[start:it.end].hex(), depth + 1, text))

    def scalar(self, it, depth, text):
        self.head(it, depth, text, with_content=True)

    # --- the formats -------------------------------------------------------------------------
    def presentation(self, it):
        assert it.major == 4 and it.arg == 4, "presentation must be array(4)"
        self.head(it, 0, "array(4): presentation [credential, t, d, holder_sig]")
        tag, t, d, sig = it.children
        self.sign1(tag, 1)
        self.scalar(t, 1, f"t = {t.value} ({utc(t.value)}): presentation time, UNIX seconds")
        self.scalar(d, 1, f"d = {d.value}: holder window, seconds")
        self.content(sig, 1, "holder signature: Ed25519(device key, holder signing input)")

    def sign1(self, tag, depth):
        assert tag.major == 6 and tag.arg == 18
        self.head(tag, depth, "tag(18): COSE_Sign1")
        arr = tag.children[0]
        self.head(arr, depth, "array(4): [protected, unprotected, payload, signature]")
        prot, unprot, payload, sig = arr.children
        self.head(prot, depth + 1, f"bstr({prot.arg}): protected header, serialized map")
        ph = parse(self.raw, prot.off + prot.head_len)
        self.head(ph, depth + 2, f"map({ph.arg})")
        for k, v in zip(ph.children[::2], ph.children[1::2]):
            if k.value == 1:
                self.scalar(k, depth + 3, "1: alg")
                self.scalar(v, depth + 3, f"{v.value}: EdDSA")
            elif k.value == 4:
                self.scalar(k, depth + 3, "4: kid")
                import base64
                kid = base64.urlsafe_b64encode(v.value).rstrip(b"=").decode()
                self.content(v, depth + 3, f"kid = {kid} (base64url)")
        self.head(unprot, depth + 1, "map(0): unprotected header, empty")
        self.head(payload, depth + 1, f"bstr({payload.arg}): payload = CWT claims set")
        self.cwt(parse(self.raw, payload.off + payload.head_len), depth + 2)
        self.content(sig, depth + 1, "issuer signature: Ed25519 over Sig_structure")

    def cwt(self, m, depth):
        self.head(m, depth, f"map({m.arg}): CWT claims")
        for k, v in zip(m.children[::2], m.children[1::2]):
            key = k.value
            if key == 4:
                self.scalar(k, depth + 1, "4: exp")
                self.scalar(v, depth + 1, f"{v.value} ({utc(v.value)})")
            elif key == 6:
                self.scalar(k, depth + 1, "6: iat")
                self.scalar(v, depth + 1, f"{v.value} ({utc(v.value)})")
            elif key == 8:
                self.scalar(k, depth + 1, "8: cnf (RFC 8747)")
                self.head(v, depth + 1, "map(1)")
                ck, key_map = v.children
                self.scalar(ck, depth + 2, "1: COSE_Key")
                self.head(key_map, depth + 2, "map(3): COSE_Key")
                names = {1: "kty", -1: "crv", -2: "x"}
                for a, b in zip(key_map.children[::2], key_map.children[1::2]):
                    self.scalar(a, depth + 3, f"{a.value}: {names.get(a.value, '?')}")
                    if a.value == -2:
                        import base64
                        x = base64.urlsafe_b64encode(b.value).rstrip(b"=").decode()
                        self.content(b, depth + 3, f"holder public key ({x})")
                    else:
                        self.scalar(b, depth + 3, {1: "1: OKP", 6: "6: Ed25519"}.get(b.value, str(b.value)))
            elif key == -65537:
                self.scalar(k, depth + 1, "-65537: private claims (identity)")
                self.inner(v, depth + 1)
            else:
                self.scalar(k, depth + 1, f"{key}: UNKNOWN (a verifier rejects it)")

    def inner(self, m, depth):
        self.head(m, depth, f"map({m.arg}): identity claims")
        for k, v in zip(m.children[::2], m.children[1::2]):
            key = k.value
            if key == 0:
                self.scalar(k, depth + 1, "0: purpose")
                self.scalar(v, depth + 1, f"{v.value}: {PURPOSES.get(v.value, '?')}")
            elif key == 1:
                self.scalar(k, depth + 1, "1: status [list id, index]")
                self.head(v, depth + 1, "array(2)")
                a, b = v.children
                self.scalar(a, depth + 2, f"list id {a.value}")
                self.scalar(b, depth + 2, f"index {b.value}")
            elif key == 2:
                self.scalar(k, depth + 1, "2: level")
                self.scalar(v, depth + 1, f"{v.value}")
            elif key == 22:
                self.scalar(k, depth + 1, "22: shortened (claims shortened to fit the QR, §2.10)")
                self.head(v, depth + 1, f"array({v.arg})")
                for c in v.children:
                    self.scalar(c, depth + 2, f"{c.value}: {CLAIMS.get(c.value, ('?',))[0]}")
            elif key in CLAIMS:
                name, kind = CLAIMS[key]
                self.scalar(k, depth + 1, f"{key}: {name}")
                if kind == "tstr":
                    self.content(v, depth + 1, f'"{v.value}"')
                elif kind == "days":
                    self.scalar(v, depth + 1, f"{v.value} days = {days_to_date(v.value)}")
                elif kind == "iso5218":
                    self.scalar(v, depth + 1, f"{v.value} ({ {1: 'M', 2: 'F', 9: 'X'}.get(v.value, '?') })")
                elif kind == "kind":
                    self.scalar(v, depth + 1, f"{v.value} ({ {1: 'temporary', 2: 'permanent'}.get(v.value, '?') })")
                else:
                    self.scalar(v, depth + 1, str(v.value).lower())
            else:
                self.scalar(k, depth + 1, f"{key}: UNKNOWN (a verifier rejects it)")

    def markdown(self):
        out = ["| offset | bytes | item |", "|---:|---|---|"]
        for off, hx, depth, text in self.rows:
            shown = hx if len(hx) <= 40 else hx[:32] + f"… ({len(hx)//2} bytes)"
            out.append(f"| {off} | `{shown}` | {'· ' * depth}{text} |")
        return "\n".join(out)


def budget(raw, text):
    it = parse(raw)
    tag, t, d, sig = it.children
    arr = tag.children[0]
    prot, unprot, payload, isig = arr.children
    cwt = parse(raw, payload.off + payload.head_len)
    cred_len = tag.end - tag.off
    pl = payload.end - payload.off - payload.head_len
    rows = [
        ("presentation array head", it.head_len),
        ("credential (tagged COSE_Sign1), total", cred_len),
        ("  of which COSE envelope (tag, array, protected, unprotected, payload head)",
         cred_len - pl - (isig.end - isig.off)),
        ("  of which issuer signature (bstr head + 64)", isig.end - isig.off),
        ("  of which payload (CWT claims)", pl),
    ]
    # payload parts
    for k, v in zip(cwt.children[::2], cwt.children[1::2]):
        name = {4: "exp", 6: "iat", 8: "cnf (holder key)", -65537: "identity claims map"}[k.value]
        rows.append((f"    {name} (key + value)", v.end - k.off))
    rows.append(("    CWT map head", cwt.head_len))
    rows.append(("holder part: t, d, holder signature", sig.end - t.off))
    rows.append(("presentation bytes", len(raw)))
    rows.append(("QR text characters (4 + base45)", len(text)))
    out = ["| part | bytes |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case", nargs="?", default="valid-landlord")
    ap.add_argument("--cases", default=os.path.join(os.path.dirname(__file__), "../../verifier/testdata/qr-cases.json"))
    ap.add_argument("--text")
    a = ap.parse_args()
    if a.text:
        text = a.text
    else:
        cases = {c["name"]: c for c in json.load(open(a.cases))}
        text = cases[a.case]["text"]
    assert text.startswith(PREFIX), "no VN1: prefix"
    raw = b45decode(text[len(PREFIX):])
    print(f"text: {len(text)} characters; presentation: {len(raw)} bytes\n")
    print("```\n" + raw.hex() + "\n```\n")
    an = Annotator(raw)
    an.presentation(parse(raw))
    print(an.markdown())
    print()
    print(budget(raw, text))


if __name__ == "__main__":
    sys.exit(main())
