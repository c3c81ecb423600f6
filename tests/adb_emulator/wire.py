"""ADB wire format as a device sees it: message headers, checksums and the RSA token check."""
from __future__ import annotations

import base64
import hashlib
import struct

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_AUTH = 0x48545541
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257

NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_AUTH: "AUTH", A_OPEN: "OPEN", A_OKAY: "OKAY",
         A_CLSE: "CLSE", A_WRTE: "WRTE"}

AUTH_TOKEN = 1
AUTH_SIGNATURE = 2
AUTH_RSAPUBLICKEY = 3

# Protocol versions: from VERSION_SKIP_CHECKSUM on, data checksums are 0 and not checked.
VERSION_MIN = 0x01000000
VERSION_SKIP_CHECKSUM = 0x01000001
MAX_PAYLOAD_V1 = 4 * 1024
MAX_PAYLOAD = 1024 * 1024

HEADER = struct.Struct("<6I")


def checksum(data: bytes) -> int:
    if len(data) > 4096:
        import numpy as np

        # the device side should not be what limits a legacy (checksummed) client's throughput
        return int(np.frombuffer(data, dtype=np.uint8).sum(dtype=np.uint64)) & 0xFFFFFFFF
    return sum(data) & 0xFFFFFFFF


def pack(command: int, arg0: int, arg1: int, data: bytes = b"", *, with_checksum: bool) -> bytes:
    return HEADER.pack(command, arg0, arg1, len(data), checksum(data) if with_checksum else 0,
                       command ^ 0xFFFFFFFF) + data


# ---- RSA: adb's public key blob and the token signature ----------------------------------------
# struct RSAPublicKey { u32 modulus_size_words; u32 n0inv; u8 modulus[256] (LE); u8 rr[256]; u32 e }
_PUBKEY = struct.Struct("<II256s256sI")
# DER DigestInfo prefix for SHA-1: adbd verifies RSA_verify(NID_sha1, token, ...), i.e. the 20-byte
# token itself stands in the place of the digest.
_SHA1_DIGEST_INFO = bytes.fromhex("3021300906052b0e03021a05000414")


def parse_public_key(blob: bytes) -> tuple[int, int]:
    """(n, e) from an adbkey.pub line: base64 of the RSAPublicKey struct, optionally ' user@host'."""
    text = blob.split(b"\0", 1)[0].strip().split(b" ", 1)[0]
    raw = base64.b64decode(text)
    words, _n0inv, modulus, _rr, exponent = _PUBKEY.unpack(raw)
    if words != 64:
        raise ValueError(f"unsupported key size: {words * 32} bits")
    return int.from_bytes(modulus, "little"), exponent


def verify_token_signature(token: bytes, signature: bytes, key: tuple[int, int]) -> bool:
    n, e = key
    size = (n.bit_length() + 7) // 8
    if len(signature) != size:
        return False
    recovered = pow(int.from_bytes(signature, "big"), e, n).to_bytes(size, "big")
    payload = _SHA1_DIGEST_INFO + token
    expected = b"\x00\x01" + b"\xff" * (size - len(payload) - 3) + b"\x00" + payload
    return recovered == expected


def key_fingerprint(key: tuple[int, int]) -> str:
    return hashlib.md5(key[0].to_bytes(256, "big")).hexdigest()
