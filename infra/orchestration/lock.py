"""One deploy at a time per environment, laptop and CI alike: a lock held in AWS.

The lock is one S3 object, `locks/PROJECT-ENV.json` in the account's template bucket
(infra/aws/template_bucket.py), written with a conditional PutObject: `IfNoneMatch="*"`
"uploads the object only if the object key name does not already exist ... Otherwise, Amazon
S3 returns a 412 Precondition Failed error. If a conflicting operation occurs during the upload
S3 returns a 409 ConditionalRequestConflict response. On a 409 failure you should retry the
upload" (botocore's S3 model, PutObject IfNoneMatch). It is released with a DeleteObject
`IfMatch` our ETag, so a lock someone broke and took is never removed by the run it was
broken from. The object says who holds it, since when, from where, and until when it counts:
a lock past its expiry (a run killed without its `finally`) is broken only on request
(`--break-lock`).

The same calls run against the local emulator (moto honours both conditions).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from infra.aws.errors import AWS_ERRORS, translate
from infra.aws.template_bucket import TemplateBucket
from infra.core.errors import BadInput

EXPIRES_AFTER = timedelta(hours=3)  # longer than any deploy: stacks time out within the hour
POLL_S = 10.0  # while --wait-for-lock waits: one GetObject / PutObject pair per poll


def key_for(project: str, env: str) -> str:
    return f"locks/{project}-{env}.json"


def origin() -> str:
    """Where this run comes from: the GitHub Actions run, or user@host (pid)."""
    run_id = os.environ.get("GITHUB_RUN_ID")
    if run_id:
        repository = os.environ.get("GITHUB_REPOSITORY", "?")
        server = os.environ.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{repository}/actions/runs/{run_id}"
    return f"{getpass.getuser()}@{socket.gethostname()} (pid {os.getpid()})"


@dataclass(frozen=True)
class Holder:
    who: str
    since: datetime
    expires: datetime
    where: str
    command: str

    @classmethod
    def parse(cls, body: bytes) -> Holder:
        try:
            data = json.loads(body)
            return cls(
                who=data["who"],
                since=datetime.fromisoformat(data["since"]),
                expires=datetime.fromisoformat(data["expires"]),
                where=data["where"],
                command=data.get("command", "deploy"),
            )
        except (ValueError, KeyError, TypeError):
            epoch = datetime.fromtimestamp(0, UTC)
            return cls("unknown (unreadable lock)", epoch, epoch, "unknown", "unknown")

    def describe(self) -> str:
        since = self.since.isoformat(timespec="seconds")
        return f"{self.command} by {self.who} since {since} from {self.where}"


class DeployLock:
    """The environment's lock; `held()` takes it, yields, and releases it (Ctrl-C too)."""

    def __init__(
        self,
        bucket: TemplateBucket,
        s3_client,
        *,
        project: str,
        env: str,
        who: str,
        command: str = "deploy",
        say: Callable[[str], None] = print,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._bucket = bucket
        self._s3 = s3_client
        self._env = env
        self.key = key_for(project, env)
        self._who = who
        self._command = command
        self._say = say
        self._now = now
        self._sleep = sleep
        self._etag: str | None = None

    @property
    def where(self) -> str:
        return f"s3://{self._bucket.name}/{self.key}"

    @contextmanager
    def held(self, *, wait_s: float = 0, break_lock: bool = False) -> Iterator[None]:
        self.acquire(wait_s=wait_s, break_lock=break_lock)
        try:
            yield
        finally:
            self.release()

    def acquire(self, *, wait_s: float = 0, break_lock: bool = False) -> None:
        deadline = time.monotonic() + wait_s
        told = False
        while True:
            if self._try_put():
                return
            found = self._read()
            if found is None:
                continue  # released between our PutObject and GetObject: try again
            holder, etag = found
            if break_lock and holder.expires <= self._now():
                self._say(f"breaking the expired lock of env {self._env} ({holder.describe()})")
                self._delete(etag)
                continue
            if time.monotonic() >= deadline:
                raise BadInput(self._refusal(holder, break_lock))
            if not told:
                self._say(
                    f"env {self._env} is locked ({holder.describe()}); waiting up to "
                    f"{wait_s:g} s for it"
                )
                told = True
            self._sleep(min(POLL_S, max(deadline - time.monotonic(), 0.1)))

    def release(self) -> None:
        if self._etag is None:
            return
        etag, self._etag = self._etag, None
        try:
            self._delete(etag)
        except BadInput:
            pass  # someone broke it and took it: theirs now
        except AWS_ERRORS:
            self._say(f"could not release the deploy lock {self.where}; it expires by itself")

    def _try_put(self) -> bool:
        since = self._now()
        body = {
            "who": self._who,
            "since": since.isoformat(timespec="seconds"),
            "expires": (since + EXPIRES_AFTER).isoformat(timespec="seconds"),
            "where": origin(),
            "command": self._command,
            "token": uuid.uuid4().hex,
        }
        try:
            answer = self._s3.put_object(
                Bucket=self._bucket.name,
                Key=self.key,
                Body=json.dumps(body).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
                ExpectedBucketOwner=self._bucket.owner,
            )
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                return False
            if _code(exc) == "NoSuchBucket" and self._make_bucket():
                return self._try_put()
            raise translate(exc, "taking the deploy lock", self.where) from None
        except AWS_ERRORS as exc:
            raise translate(exc, "taking the deploy lock", self.where) from None
        self._etag = answer["ETag"]
        return True

    def _make_bucket(self) -> bool:
        """The first run in an account creates the template bucket (the lock needs no
        HeadBucket otherwise, so the deploy role needs only the lock key's object actions)."""
        try:
            self._bucket.ensure()
        except AWS_ERRORS as exc:
            raise translate(exc, "creating the template bucket for", self.where) from None
        return True

    def _read(self) -> tuple[Holder, str] | None:
        try:
            answer = self._s3.get_object(
                Bucket=self._bucket.name, Key=self.key, ExpectedBucketOwner=self._bucket.owner
            )
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise translate(exc, "reading the deploy lock", self.where) from None
        except AWS_ERRORS as exc:
            raise translate(exc, "reading the deploy lock", self.where) from None
        return Holder.parse(answer["Body"].read()), answer["ETag"]

    def _delete(self, etag: str) -> None:
        """Delete the lock only if it is still the one we saw (BadInput if it is not)."""
        try:
            self._s3.delete_object(
                Bucket=self._bucket.name,
                Key=self.key,
                IfMatch=etag,
                ExpectedBucketOwner=self._bucket.owner,
            )
        except ClientError as exc:
            if _code(exc) in ("PreconditionFailed", "412"):
                raise BadInput(f"the deploy lock {self.where} changed hands meanwhile") from None
            if _code(exc) in ("NoSuchKey", "404"):
                return
            raise translate(exc, "releasing the deploy lock", self.where) from None

    def _refusal(self, holder: Holder, break_lock: bool) -> str:
        expires = holder.expires.isoformat(timespec="seconds")
        if holder.expires <= self._now():
            advice = f"It expired at {expires}: if that run is dead, run again with --break-lock."
        else:
            advice = (
                f"Wait for it to finish (--wait-for-lock SECONDS waits here); it expires at "
                f"{expires}, after which --break-lock can break it."
            )
            if break_lock:
                advice = f"--break-lock breaks only an expired lock; this one expires at {expires}."
        return (
            f"env {self._env} is being deployed: {holder.describe()} holds the deploy lock "
            f"{self.where}. {advice}"
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
