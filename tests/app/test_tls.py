"""app/tls.py against a real PostgreSQL serving TLS with a certificate from a test CA:
verify-full accepts only a certificate that chains to the given CA and names the host."""

from __future__ import annotations

import asyncio
import datetime
import os
import shutil
import ssl
from pathlib import Path

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.config import RDS_CA_BUNDLE, load_database
from app.db import Database, Unavailable, admin_connection
from app.errors import OperationError
from app.tls import ssl_context
from infra.local.postgres import LocalPostgres
from tests.conftest import make_postgres_dir
from tests.support.app_service import prepare


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca_and_server_cert(directory: Path) -> tuple[Path, bytes, bytes]:
    """A test CA (written to ca.pem) and a server certificate for DNS name localhost."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("gifstack test CA"))
        .issuer_name(_name("gifstack test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca_path, cert.public_bytes(serialization.Encoding.PEM), _pem(key)


@pytest.fixture(scope="module")
def tls_postgres():
    """A PostgreSQL with ssl=on; yields (server, test CA path)."""
    root = make_postgres_dir("gifstack-tls-")
    server = LocalPostgres(root / "data", ephemeral=True)
    server.start()
    ca_path, cert, key = make_ca_and_server_cert(root)
    owner = server.data_dir.stat()
    for name, content in (("server.crt", cert), ("server.key", key)):
        path = server.data_dir / name
        path.write_bytes(content)
        path.chmod(0o600)
        os.chown(path, owner.st_uid, owner.st_gid)

    async def enable() -> None:
        connection = await asyncpg.connect(server.url, ssl=False)
        try:
            await connection.execute("ALTER SYSTEM SET ssl = on")
            await connection.execute("SELECT pg_reload_conf()")
        finally:
            await connection.close()

    asyncio.run(enable())
    prepare(server.url)
    try:
        yield server, ca_path
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _env(server: LocalPostgres, host: str, **extra: str) -> dict[str, str]:
    url = server.url.replace("@127.0.0.1:", f"@{host}:")
    return {"DATABASE_URL": url, **extra}


async def _tls_in_use(env: dict[str, str]) -> bool:
    database = Database(load_database(env))
    await database.open()
    try:
        assert (await database.random_gif()) is not None
        return await database._run(
            "fetchval", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
    finally:
        await database.close()


def test_verify_full_connects_over_tls_to_a_certificate_from_the_ca(tls_postgres):
    server, ca = tls_postgres
    env = _env(server, "localhost", DB_SSLMODE="verify-full", DB_SSLROOTCERT=str(ca))
    assert asyncio.run(_tls_in_use(env)) is True


def test_verify_full_refuses_a_certificate_the_rds_bundle_did_not_sign(tls_postgres):
    server, _ = tls_postgres
    config = load_database(_env(server, "localhost", DB_SSLMODE="verify-full"))
    assert config.sslrootcert == RDS_CA_BUNDLE
    with pytest.raises(OperationError, match="certificate verify failed"):
        asyncio.run(admin_connection(config))

    async def serve_once():
        database = Database(config)
        await database.open()
        try:
            with pytest.raises(Unavailable):
                await database.random_gif()
        finally:
            await database.close()

    asyncio.run(serve_once())


def test_verify_full_refuses_a_certificate_for_another_host(tls_postgres):
    server, ca = tls_postgres
    env = _env(server, "127.0.0.1", DB_SSLMODE="verify-full", DB_SSLROOTCERT=str(ca))
    with pytest.raises(OperationError, match=r"(?i)hostname mismatch|doesn't match|not valid for"):
        asyncio.run(admin_connection(load_database(env)))


def test_require_encrypts_without_checking_the_certificate(tls_postgres):
    server, _ = tls_postgres
    assert asyncio.run(_tls_in_use(_env(server, "127.0.0.1", DB_SSLMODE="require"))) is True


def test_disable_is_plain_tcp(tls_postgres):
    server, _ = tls_postgres
    assert asyncio.run(_tls_in_use(_env(server, "127.0.0.1", DB_SSLMODE="disable"))) is False


def test_tls_modes_refuse_a_server_without_tls(postgres):
    env = {"DATABASE_URL": postgres.url, "DB_SSLMODE": "require"}
    with pytest.raises(OperationError):
        asyncio.run(admin_connection(load_database(env)))


def test_contexts():
    assert ssl_context("disable", RDS_CA_BUNDLE) is False
    loose = ssl_context("require", RDS_CA_BUNDLE)
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname
    strict = ssl_context("verify-full", RDS_CA_BUNDLE)
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    assert strict.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert strict.cert_store_stats()["x509_ca"] > 10  # the RDS roots of every region
