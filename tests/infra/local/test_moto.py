"""infra/local/moto.py: the AWS emulator launcher, run as a real background process."""

from __future__ import annotations

import socket

import pytest

from infra.core.errors import BadInput
from infra.local.moto import Emulator
from infra.settings import params
from tests.support import emulator as support
from tests.support.local_sandbox import free_port


def test_start_is_idempotent_answers_over_http_and_stop_goes_by_pid(tmp_path):
    emulator = Emulator("127.0.0.1", free_port(), tmp_path / "moto")
    try:
        assert emulator.start() is True
        pid = emulator.pid()
        assert pid is not None
        assert emulator.process.pid_file.read_text().strip() == str(pid)
        assert emulator.answers()

        assert emulator.start() is False  # second `local.up`: same process, no error
        assert emulator.pid() == pid

        sts = support.client(emulator, "sts")
        assert sts.get_caller_identity()["Account"] == "123456789012"
    finally:
        stopped = emulator.stop()
    assert stopped is True
    assert emulator.pid() is None
    assert not emulator.answers()
    assert not emulator.process.pid_file.exists()
    assert emulator.stop() is False  # `local.down` twice is harmless too


def test_a_stale_pid_file_is_not_taken_for_a_running_emulator(tmp_path):
    emulator = Emulator("127.0.0.1", free_port(), tmp_path / "moto")
    emulator.process.pid_file.parent.mkdir(parents=True)
    emulator.process.pid_file.write_text("1\n")  # pid 1 is alive but is not moto

    assert emulator.pid() is None
    assert not emulator.process.pid_file.exists()


def test_a_port_taken_by_another_program_is_bad_input(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        emulator = Emulator("127.0.0.1", port, tmp_path / "moto")

        with pytest.raises(BadInput, match=f"port {port} .* taken by another program"):
            emulator.start()
    assert emulator.pid() is None


def test_the_local_params_put_it_on_loopback_port_4566_under_dot_local():
    emulator = Emulator.for_settings(params.load("local"))

    assert emulator.url == "http://127.0.0.1:4566"
    assert emulator.state_dir.parts[-2:] == (".local", "moto")


def test_an_env_without_an_emulator_endpoint_is_bad_input():
    with pytest.raises(BadInput, match="no aws_endpoint_url"):
        Emulator.for_settings(params.load("dev"))


def test_a_non_loopback_endpoint_is_refused():
    settings = params.load("local").model_copy(update={"aws_endpoint_url": "http://10.0.0.5:4566"})
    with pytest.raises(BadInput, match=r"must be http://127\.0\.0\.1:PORT"):
        Emulator.for_settings(settings)
