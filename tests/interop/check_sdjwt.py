"""Independent check: verify an SD-JWT VC with the IETF reference implementation (PyPI `sd-jwt`).

usage: check_sdjwt.py CREDENTIAL_FILE JWKS_FILE
Prints the verified, disclosed claims as JSON; exits non-zero if verification fails.
"""
import json
import sys

from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier


def main() -> int:
    sd_jwt = open(sys.argv[1], encoding="ascii").read().strip()
    jwks = json.load(open(sys.argv[2], encoding="utf-8"))

    def issuer_key(issuer, header):
        assert header["alg"] == "EdDSA", header
        for k in jwks["keys"]:
            if k["kid"] == header["kid"]:
                return JWK(kty=k["kty"], crv=k["crv"], x=k["x"])
        raise ValueError(f"no key {header['kid']} in the JWK Set")

    claims = SDJWTVerifier(sd_jwt, issuer_key).get_verified_payload()
    json.dump(claims, sys.stdout, ensure_ascii=False, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
