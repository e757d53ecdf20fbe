#!/usr/bin/env python3
"""A stand-in `docker` CLI for tests of infra/orchestration/image.py: no Docker engine runs on
these machines.

Gap it closes: `docker buildx build/push` cannot run here. The stand-in records every call
(arguments and stdin) as JSON lines in $FAKE_DOCKER_LOG, remembers the refs it "built" and,
on `push`, registers the image in the ECR endpoint $FAKE_DOCKER_ECR_ENDPOINT (moto's server)
with PutImage, so the code under test reads the digest back from ECR as it would for real.
$FAKE_DOCKER_NO_BUILDX=1 makes it behave like a docker CLI without the Buildx plugin;
$FAKE_DOCKER_NO_DAEMON=1 like one whose daemon is not running; $FAKE_DOCKER_PUSH_FAILS=1
makes `push` fail.
Tests put a `docker` symlink to this file first on PATH.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

args = sys.argv[1:]
log = Path(os.environ["FAKE_DOCKER_LOG"])
built = log.with_suffix(".built")
stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
with log.open("a") as out:
    out.write(json.dumps({"args": args, "stdin": stdin}) + "\n")
refs = built.read_text().split() if built.exists() else []

if args[:1] == ["version"]:
    if os.environ.get("FAKE_DOCKER_NO_DAEMON") == "1":
        print(
            "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.", file=sys.stderr
        )
        sys.exit(1)
elif args[:1] == ["buildx"]:
    if os.environ.get("FAKE_DOCKER_NO_BUILDX") == "1":
        print("docker: unknown command: docker buildx", file=sys.stderr)
        sys.exit(1)
    if args[1] == "build":
        built.write_text("\n".join([*refs, args[args.index("--tag") + 1]]))
elif args[:2] == ["image", "inspect"]:
    sys.exit(0 if args[2] in refs else 1)
elif args[:1] == ["push"]:
    import boto3

    ref = args[1]
    if ref not in refs or os.environ.get("FAKE_DOCKER_PUSH_FAILS") == "1":
        print(f"An image does not exist locally with the tag: {ref}", file=sys.stderr)
        sys.exit(1)
    repository, tag = ref.split("/", 1)[1].rsplit(":", 1)
    config = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": "sha256:" + hashlib.sha256(ref.encode()).hexdigest()},
    }
    boto3.client("ecr", endpoint_url=os.environ["FAKE_DOCKER_ECR_ENDPOINT"]).put_image(
        repositoryName=repository, imageTag=tag, imageManifest=json.dumps(config)
    )
