"""The local AWS emulator: moto's server mode as a background process on loopback.

`Emulator.for_settings(settings)` listens where params/local.yaml's `aws_endpoint_url`
points (http://127.0.0.1:4566). Its pid and log files live under `.local/moto/`.
Run as `python -m infra.local.moto --host H --port P` it is the emulator process itself:
moto's server with the gap workarounds of infra/local/stack_gaps.py applied.
"""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from infra.core.errors import BadInput
from infra.core.paths import LOCAL_DIR, ROOT
from infra.local.process import Background, port_open
from infra.settings.params import Settings

MARKER = "infra.local.moto"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class Emulator:
    host: str
    port: int
    state_dir: Path = LOCAL_DIR / "moto"

    @classmethod
    def for_settings(cls, settings: Settings, local_dir: Path = LOCAL_DIR) -> Emulator:
        if not settings.aws_endpoint_url:
            raise BadInput(
                f"params/{settings.env}.yaml has no aws_endpoint_url, so there is no local "
                "AWS emulator for it; the local stand-ins belong to `--env local`."
            )
        parts = urlsplit(settings.aws_endpoint_url)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise BadInput(
                f"aws_endpoint_url {settings.aws_endpoint_url!r} in params/{settings.env}.yaml "
                "must be http://127.0.0.1:PORT for the local emulator (it binds loopback only)."
            )
        return cls("127.0.0.1", parts.port or 80, local_dir / "moto")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def process(self) -> Background:
        return Background(
            name="AWS emulator (moto)",
            pid_file=self.state_dir / "moto.pid",
            log_file=self.state_dir / "moto.log",
            marker=MARKER,
            port=self.port,
            workdir=ROOT,
        )

    def pid(self) -> int | None:
        return self.process.pid()

    def answers(self) -> bool:
        """Whether moto answers HTTP on its port (any HTTP status counts)."""
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def start(self) -> bool:
        """Start the emulator unless it already runs; True when this call started it."""
        pid = self.pid()
        if pid is not None:
            self.process.adopt(pid)  # its pid file may have gone with .local/
            self.process.wait_until(self.answers, START_TIMEOUT_S)
            return False
        if port_open(self.host, self.port):
            raise BadInput(
                f"port {self.port} on {self.host} is taken by another program, so the AWS "
                f"emulator can't listen there. Stop that program, or point aws_endpoint_url "
                "in params/local.yaml at a free port."
            )
        argv = [sys.executable, "-m", MARKER, "--host", self.host, "--port", str(self.port)]
        started = self.process.start(argv, cwd=ROOT)
        self.process.wait_until(self.answers, START_TIMEOUT_S, started)
        return True

    def stop(self) -> bool:
        """Stop it (by its pid); False when it wasn't running. Its state goes with it."""
        return self.process.stop()


def serve(host: str, port: int) -> None:
    """Be the emulator: moto's server, patched to close its known gaps (stack_gaps)."""
    import moto.server

    from infra.local import stack_gaps

    stack_gaps.patch_moto()
    moto.server.main(["--host", host, "--port", str(port)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.moto", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="Address to bind (loopback).")
    parser.add_argument("--port", type=int, default=4566, help="Port to listen on.")
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
