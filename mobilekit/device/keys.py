"""The ADB RSA key pair at ~/.android/adbkey, in the platform-tools format (PKCS#8 PEM private key
with mode 0600; adbkey.pub = base64 of Android's RSAPublicKey struct + ' user@host')."""
from __future__ import annotations

import base64
import contextlib
import getpass
import os
import socket
import stat
import struct
import tempfile
from pathlib import Path

from .._io import write_bytes_atomic
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
    from cryptography.exceptions import UnsupportedAlgorithm
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
                try:
                    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                except (ValueError, TypeError, UnsupportedAlgorithm):
                    raise DeviceError(f"the ADB key {path} is not a readable private key (cut short or "
                                      "not PEM)", hint=f"move {path} aside; a new key pair is made on next "
                                      "use and the phone asks to allow it once") from None
                _write_public(pub, key.public_key().public_numbers())
            return path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        if not _create_private(path, pem):
            return ensure_key(path)  # another process made the key first: use theirs
        _write_public(path.with_name(path.name + ".pub"), key.public_key().public_numbers())
    except OSError as exc:
        raise DeviceError(f"cannot create the ADB key {path}: {exc.strerror or exc}",
                          hint="check that the folder is writable, or set ANDROID_USER_HOME") from None
    return path


def _create_private(path: Path, pem: bytes) -> bool:
    """Put ``pem`` at ``path``, readable by its owner only from the first byte, and whole or not at
    all: a key cut short by a full disk or a kill would otherwise be taken for the key next time."""
    # mkstemp creates the file 0600 (never wider, whatever the umask); link() publishes it only
    # once complete and fails if another process made the key meanwhile, keeping theirs.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_public(pub: Path, numbers) -> None:
    try:
        user = f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown@unknown"
    write_bytes_atomic(pub, base64.b64encode(encode_public_key(numbers)) + f" {user}".encode())


def unauthorized_hint(key_path=None) -> str:
    """What to do about an "unauthorized" phone, in the same words wherever it is met."""
    path = Path(key_path) if key_path is not None else default_key_path()
    return (f"unlock the phone and accept the 'Allow USB debugging?' prompt for the key {path}.pub, "
            "then retry")
