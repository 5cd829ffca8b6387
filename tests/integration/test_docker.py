"""docker/: the compose file validates (Debian's docker-compose, no daemon needed), and the image's
build steps (docker/build.sh, which the Dockerfile runs) build the wheel, install it and serve from
it, here outside a container (issue 12, point 6)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from promsvc.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"


def test_the_compose_file_validates():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is needed (Debian package docker-compose; .ci/run installs it)"
    result = subprocess.run([compose, "-f", str(DOCKER / "compose.yaml"), "config"], capture_output=True, text=True,
                            cwd=DOCKER, env={"PATH": os.environ["PATH"]})
    assert result.returncode == 0, result.stderr
    for service in ("db:", "web:", "dispatcher:"):
        assert service in result.stdout
    assert "--workers" in result.stdout and "PROMSVC_SECRET_KEY_FILE" in result.stdout


def test_the_dockerfile_uses_a_slim_base_a_user_of_its_own_the_wheel_and_a_health_check():
    text = (DOCKER / "Dockerfile").read_text()
    stages = text.split("\nFROM ")
    final = stages[-1]
    assert final.startswith("python:3.11-slim") and "USER promsvc" in final and "HEALTHCHECK" in final
    assert "install /wheels" in final and "build.sh wheel" not in final  # the wheel is built in the first stage


def test_settings_read_secrets_from_files(tmp_path):
    (tmp_path / "key").write_text("s3cret-from-a-file\n")
    assert Settings.from_mapping({"PROMSVC_SECRET_KEY_FILE": str(tmp_path / "key")}).secret_key == "s3cret-from-a-file"
    with pytest.raises(SettingsError, match="PROMSVC_SECRET_KEY_FILE: cannot read"):
        Settings.from_mapping({"PROMSVC_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_the_image_build_steps_run_outside_a_container(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMSVC_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the project's Python, with setuptools
    # The dependencies from this environment instead of a download (the image installs them from the index).
    env["PROMSVC_TEST_DEPS_FROM"] = sysconfig.get_paths()["purelib"]
    build = str(DOCKER / "build.sh")
    for step in (["wheel", str(tmp_path / "wheels")], ["install", str(tmp_path / "wheels"), str(tmp_path / "venv")],
                 ["check", str(tmp_path / "venv")]):
        result = subprocess.run([build, *step], capture_output=True, text=True, env=env, timeout=300)
        assert result.returncode == 0, (step, result.stdout, result.stderr)
    assert "ready and stopped cleanly" in result.stdout
    assert f"promsvc from {tmp_path / 'venv'}" in result.stdout  # installed from the wheel, not the source tree
    assert not (tmp_path / "venv" / "bin" / "pip").exists()  # no installer in the service's environment
