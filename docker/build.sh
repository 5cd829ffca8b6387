#!/usr/bin/env bash
# The image's build steps, in one script that the Dockerfile runs inside the image and the test
# suite runs outside a container (tests/integration/test_docker.py), so that the steps are tested
# where no container runtime exists.
#
#   docker/build.sh wheel OUTDIR       build promsvc's wheel from the source tree into OUTDIR
#   docker/build.sh install WHEELDIR PREFIX
#                                      a virtual environment at PREFIX with the wheel installed (not
#                                      editable); its dependencies from the package index, or, when
#                                      PROMSVC_TEST_DEPS_FROM names a site-packages directory, from
#                                      there (the test does so: no download)
#   docker/build.sh check PREFIX       smoke test of an installed service: settings and registry
#                                      files checked, a SQLite database migrated, `promsvc serve`
#                                      answering /health/ready, then stopped with SIGTERM
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  wheel)
    out="$2"
    python3 -m pip wheel --quiet --no-deps --wheel-dir "$out" .
    ;;
  install)
    wheels="$2"; prefix="$3"
    python3 -m venv "$prefix"
    if [ -n "${PROMSVC_TEST_DEPS_FROM:-}" ]; then
      site=$("$prefix/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      echo "$PROMSVC_TEST_DEPS_FROM" > "$site/promsvc-build-deps.pth"
      "$prefix/bin/python" -m pip install --quiet --no-deps --no-index "$wheels"/promsvc-*.whl
    else
      "$prefix/bin/python" -m pip install --quiet --no-cache-dir "$wheels"/promsvc-*.whl
    fi
    ;;
  check)
    prefix="$2"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    export PROMSVC_DATABASE_URL="sqlite:///$work/check.sqlite3"
    cd "$work"  # nothing from the source tree: only what the wheel installed
    "$prefix/bin/promsvc" registries check
    "$prefix/bin/promsvc" db upgrade
    port=$("$prefix/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$prefix/bin/promsvc" serve --port "$port" --workers 2 >"$work/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
      if "$prefix/bin/python" -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/health/ready').status != 200)" 2>/dev/null; then
        kill -TERM "$pid"; wait "$pid"; echo "build check: promsvc serve is ready and stopped cleanly"; exit 0
      fi
      sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    cat "$work/serve.log" >&2
    echo "build check: promsvc serve did not become ready" >&2
    exit 1
    ;;
  *)
    echo "usage: docker/build.sh wheel OUTDIR | install WHEELDIR PREFIX | check PREFIX" >&2
    exit 2
    ;;
esac
