"""Independent check: decode a QR image as phones do (zxing-cpp), print its text and metadata.

usage: decode_qr.py PNG
Prints one JSON object {"text", "version", "ec_level", "format"}; exits 1 if nothing decodes.
"""
import json
import sys

import zxingcpp
from PIL import Image


def main() -> int:
    results = zxingcpp.read_barcodes(Image.open(sys.argv[1]))
    if not results:
        print("no barcode found", file=sys.stderr)
        return 1
    r = results[0]
    print(json.dumps({
        "text": r.text,
        "format": str(r.format),
        # zxing-cpp 3 reports the symbol version in `extra` ({"Version": "13", ...}).
        "version": (getattr(r, "extra", None) or {}).get("Version", getattr(r, "version", "")),
        "ec_level": r.ec_level,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
