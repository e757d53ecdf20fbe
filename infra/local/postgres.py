"""An embedded PostgreSQL server for local runs and tests: init, start, stop.

Uses the system's server binaries (/usr/lib/postgresql/<version>/bin) when present, else
the ones bundled in the `pgserver` wheel. The server is a detached background process
started by pg_ctl: it listens on 127.0.0.1 only (no Unix socket), survives the process
that started it, and `start()` on a running server just returns its URL.

PostgreSQL refuses to run as root, so when we are root the server runs as an unprivileged
system user (`postgres` if it exists, else `nobody`) that owns the data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from infra.core.errors import BadInput, OperationFailed

SUPERUSER = "postgres"
DATABASE = "gif"
SYSTEM_BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_TIMEOUT_S = 60
_STATE_FILE = "gifstack-local.json"  # superuser password and last port, mode 0600
_LOG_FILE = "server.log"
RELOCATED_ROOT = Path("/var/tmp")  # where a data dir goes when its parents are private


def find_bin_dir() -> Path:
    """The newest system PostgreSQL's bin directory, else pgserver's bundled one."""
    system = sorted(
        (p for p in Path("/").glob(SYSTEM_BIN_GLOB.lstrip("/")) if (p / "pg_ctl").exists()),
        key=lambda p: _version_key(p.parent.name),
    )
    if system:
        return system[-1]
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "pginstall" / "bin"
        if (bundled / "pg_ctl").exists():
            return bundled
    raise BadInput(
        "no PostgreSQL server found: install the server package (Debian: "
        "`apt-get install postgresql`) or the pgserver wheel (`pip install pgserver`)"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


class LocalPostgres:
    """One PostgreSQL cluster in `data_dir`, reachable on 127.0.0.1:`port`.

    `port=None` reuses the port of the previous start when it is free, else picks a free
    one. `ephemeral=True` (tests) trades crash safety for speed: no fsync.
    """

    def __init__(self, data_dir: Path, port: int | None = None, *, ephemeral: bool = False):
        self.data_dir = Path(data_dir).absolute()
        self.port = port
        self.ephemeral = ephemeral
        self._bin: Path | None = None

    # --- public API ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """DATABASE_URL of the running server (the `gif` database, superuser)."""
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        """A libpq URI for `database` on the running server."""
        port = self.running_port()
        if port is None:
            raise OperationFailed(
                f"the local PostgreSQL in {self.data_dir} is not running; start it first"
            )
        password = quote(self._state()["password"], safe="")
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/{quote(database)}"

    def start(self) -> str:
        """Initialise (first time), start if needed, and return the DATABASE_URL."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.running_port() is not None:
                return self.url
            port = self._choose_port()
            first_start = not (self.data_dir / "PG_VERSION").exists()
            if first_start:
                self._init()
            self._pg_ctl(
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-l",
                str(self.data_dir.resolve() / _LOG_FILE),
                "-o",
                f"-p {port}",
                failure=f"starting PostgreSQL on 127.0.0.1:{port}",
            )
            self._save_state(port=port)
            if first_start or not self._state().get("database_created"):
                self._create_database()  # also retried if a first start died before it
                self._save_state(database_created=True)
            return self.url

    def stop(self) -> None:
        """Stop the server (fast shutdown: running transactions roll back). Idempotent."""
        with self._lock():
            if self.running_port() is None:
                return
            self._pg_ctl("stop", "-w", "-m", "fast", failure="stopping PostgreSQL")

    def is_running(self) -> bool:
        return self.running_port() is not None

    def running_port(self) -> int | None:
        """The port of the live postmaster of this data dir, or None."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None  # stale pid file: the server died without cleaning up
        if str(self.data_dir.resolve()).encode() not in cmdline:
            return None  # the pid was reused by another program (or another cluster)
        return port

    # --- setup -----------------------------------------------------------------------

    def _init(self) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise BadInput(
                f"{self.data_dir} exists and is not a PostgreSQL data directory; "
                "remove it or choose another directory"
            )
        owner = _server_user()
        if owner is not None and _blocked(self.data_dir.parent, owner) is not None:
            self._relocate()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        if owner is not None:
            _check_reachable(self.data_dir.resolve().parent, owner)
            os.chown(self.data_dir, owner.pw_uid, owner.pw_gid)
        password = secrets.token_urlsafe(24)
        # initdb reads the superuser password from a file the server user can read.
        with tempfile.NamedTemporaryFile("w", prefix="gifstack-pw-", delete=True) as pwfile:
            pwfile.write(password + "\n")
            pwfile.flush()
            if owner is not None:
                os.fchown(pwfile.fileno(), owner.pw_uid, owner.pw_gid)
            args = [
                "-D",
                str(self.data_dir.resolve()),  # the server user may not pass a symlink
                f"--username={SUPERUSER}",
                f"--pwfile={pwfile.name}",
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ]
            if self.ephemeral:
                args.append("--no-sync")
            self._run([str(self._bin_dir() / "initdb"), *args], failure="initdb")
        settings = [
            "listen_addresses = '127.0.0.1'  # loopback only",
            "unix_socket_directories = ''  # TCP only: no socket directory to own",
        ]
        if self.ephemeral:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# gifstack (infra/local/postgres.py)\n" + "\n".join(settings) + "\n")
        # asked_for: which checkout's data this is, also when it lives elsewhere (relocated)
        self._save_state(password=password, asked_for=str(self.data_dir))

    def _relocate(self) -> None:
        """Root's home (mode 0700) is out of the server user's reach: keep the cluster under
        /var/tmp and leave a symlink where it was asked for (we never loosen the
        permissions of someone's home directory). The directory there is new, private
        (0700, ours until _init gives it to the server user) and unpredictably named, so
        nobody else on the machine can create or swap it first."""
        target = Path(tempfile.mkdtemp(prefix="gifstack-postgres-", dir=RELOCATED_ROOT))
        if self.data_dir.exists():
            self.data_dir.rmdir()  # empty (checked by the caller)
        self.data_dir.symlink_to(target, target_is_directory=True)

    def _create_database(self) -> None:
        """CREATE DATABASE gif; one that already exists (an older data dir) is fine."""
        env = {**os.environ, "PGPASSWORD": self._state()["password"]}
        argv = [
            str(self._bin_dir() / "createdb"),
            *("-h", "127.0.0.1", "-p", str(self.running_port()), "-U", SUPERUSER, DATABASE),
        ]
        result = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise OperationFailed(
                f"creating database {DATABASE} in {self.data_dir} failed: {result.stderr.strip()}"
            )

    def _choose_port(self) -> int:
        if self.port is not None:
            if not _port_free(self.port):
                raise BadInput(
                    f"port {self.port} on 127.0.0.1 is in use; choose another port for the "
                    "local PostgreSQL"
                )
            return self.port
        previous = self._state().get("port") if self._state_path().exists() else None
        if previous and _port_free(previous):
            return previous
        return _free_port()

    # --- state, locking, processes ---------------------------------------------------

    def _state_path(self) -> Path:
        return self.data_dir / _STATE_FILE

    def _state(self) -> dict:
        try:
            return json.loads(self._state_path().read_text())
        except FileNotFoundError:
            raise OperationFailed(
                f"{self._state_path()} is missing; the data directory {self.data_dir} was not "
                "made by gifstack. Remove it to start afresh"
            ) from None

    def _save_state(self, **changes: object) -> None:
        path = self._state_path()
        state = json.loads(path.read_text()) if path.exists() else {}
        state.update(changes)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(state, handle)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start/stop of one data dir across processes (parallel `start()`s)."""
        lock_path = self.data_dir.parent / f".{self.data_dir.name}.lock"
        with lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _bin_dir(self) -> Path:
        if self._bin is None:
            self._bin = find_bin_dir()
        return self._bin

    def _pg_ctl(self, *args: str, failure: str) -> None:
        self._run(
            [str(self._bin_dir() / "pg_ctl"), "-D", str(self.data_dir.resolve()), *args],
            failure=failure,
        )

    def _run(
        self,
        argv: Sequence[str],
        *,
        failure: str,
        env: dict[str, str] | None = None,
        as_server_user: bool = True,
    ) -> None:
        owner = _server_user() if as_server_user else None
        if owner is not None:
            argv = [
                *_setpriv(owner),
                *argv,
            ]
        result = subprocess.run(
            list(argv),
            env=env,
            cwd="/",  # the server user may not be allowed into our working directory
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            start_new_session=True,  # the postmaster must not share our Ctrl-C
            check=False,
        )
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            raise OperationFailed(
                f"{failure} failed (data directory {self.data_dir}): {detail}{self._log_tail()}"
            )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = (self.data_dir / _LOG_FILE).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\nLast lines of the server log:\n" + "\n".join(tail) if tail else ""


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user the server runs as when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise BadInput("running as root, but neither a `postgres` nor a `nobody` user exists")


def _setpriv(user: pwd.struct_passwd) -> list[str]:
    tool = shutil.which("setpriv")
    if tool is None:
        raise BadInput("running as root needs `setpriv` (util-linux) to drop privileges")
    return [tool, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]


def _blocked(directory: Path, user: pwd.struct_passwd) -> Path | None:
    """The first directory on the way to `directory` that `user` may not enter, if any."""
    for part in reversed([directory, *directory.parents]):
        if not part.exists():
            break
        info = part.stat()
        if info.st_uid != user.pw_uid and not info.st_mode & 0o001:
            return part
    return None


def _check_reachable(directory: Path, user: pwd.struct_passwd) -> None:
    """Fail early and clearly when the server user cannot reach the data directory."""
    part = _blocked(directory, user)
    if part is not None:
        raise BadInput(
            f"the PostgreSQL server runs as user {user.pw_name}, which cannot enter "
            f"{part}; choose a data directory whose parents are world-searchable "
            f"(chmod o+x {part})"
        )


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # Like the server itself: a port whose old connections linger in TIME_WAIT (a
        # restart) is free to listen on again.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
