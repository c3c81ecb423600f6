"""The ADB RSA key pair at ~/.android/adbkey, in the platform-tools format (PKCS#8 PEM private key
with mode 0600; adbkey.pub = base64 of Android's RSAPublicKey struct + ' user@host')."""
from __future__ import annotations

import base64
import getpass
import os
import socket
import stat
import struct
from pathlib import Path

from ..errors import DeviceError

KEY_BITS = 2048


def android_user_dir() -> Path:
    """Where adb keeps its keys, in the order the adb client looks."""
    if os.environ.get("ANDROID_USER_HOME"):
        return Path(os.environ["ANDROID_USER_HOME"])
    if os.environ.get("ANDROID_SDK_HOME"):
        return Path(os.environ["ANDROID_SDK_HOME"]) / ".android"
    return Path(os.path.expanduser("~")) / ".android"


def default_key_path() -> Path:
    return android_user_dir() / "adbkey"


def encode_public_key(public_numbers) -> bytes:
    """Android's RSAPublicKey struct: word count, n0inv, modulus and R^2 mod n little-endian, e."""
    n, e = public_numbers.n, public_numbers.e
    size = KEY_BITS // 8
    r32 = 1 << 32
    n0inv = r32 - pow(n % r32, -1, r32)
    rr = pow(1 << (size * 8), 2, n)
    return struct.pack("<II256s256sI", size // 4, n0inv, n.to_bytes(size, "little"),
                       rr.to_bytes(size, "little"), e)


def ensure_key(path: Path | None = None) -> Path:
    """Return the private key path, creating the pair on first use (private key mode 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = Path(path) if path else default_key_path()
    try:
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                # A private key others can read is a key anyone on this machine can debug phones with.
                os.chmod(path, 0o600)
            pub = path.with_name(path.name + ".pub")
            if not pub.exists():
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                _write_public(pub, key.public_key().public_numbers())
            return path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.chmod(path, 0o600)  # whatever the umask said
        _write_public(path.with_name(path.name + ".pub"), key.public_key().public_numbers())
    except OSError as exc:
        raise DeviceError(f"cannot create the ADB key {path}: {exc.strerror or exc}",
                          hint="check that the folder is writable, or set ANDROID_USER_HOME") from None
    return path


def _write_public(pub: Path, numbers) -> None:
    try:
        user = f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown@unknown"
    pub.write_bytes(base64.b64encode(encode_public_key(numbers)) + f" {user}".encode())
