"""A tiny wheel with one console script, made on the spot: installs offline in a second."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

NAME = "gifstack-probe"  # distribution and command name
MODULE = "gifstack_probe"


def make(folder: Path, version: str) -> Path:
    """Write gifstack_probe-VERSION-py3-none-any.whl into `folder`; its command prints
    `probe VERSION`."""
    dist_info = f"{MODULE}-{version}.dist-info"
    files = {
        f"{MODULE}/__init__.py": f"def main():\n    print('probe {version}')\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: gifstack-tests\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": f"[console_scripts]\n{NAME} = {MODULE}:main\n",
    }
    record = [
        f"{path},sha256={_digest(text.encode())},{len(text.encode())}"
        for path, text in files.items()
    ]
    files[f"{dist_info}/RECORD"] = "\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n"
    wheel = folder / f"{MODULE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def lock_for(wheel: Path, version: str) -> str:
    """A hashed lock that installs `wheel` from its folder, without any index."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return (
        f"--no-index\n--find-links {wheel.parent}\n"
        f"{NAME}=={version} \\\n    --hash=sha256:{digest}\n"
    )


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
