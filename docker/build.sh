#!/usr/bin/env bash
# The image's build steps, in one script that the Dockerfile runs inside the image and the test
# suite runs outside a container (tests/integration/test_docker.py), so that the steps are tested
# where no container runtime exists.
#
#   docker/build.sh wheel OUTDIR       build promsvc's wheel from the source tree into OUTDIR
#   docker/build.sh install WHEELDIR PREFIX
#                                      a virtual environment at PREFIX with the wheel installed (not
#                                      editable) by this Python's pip (the environment gets no pip of
#                                      its own); its dependencies from the package index, or, when
#                                      PROMSVC_TEST_DEPS_FROM names a site-packages directory, from
#                                      there (the test does so: no download)
#   docker/build.sh check PREFIX       smoke test of an installed service: `promsvc serve` (which
#                                      checks settings and registry files and migrates a new SQLite
#                                      database first, then builds the app as every worker does)
#                                      answering /health/ready, then stopped with SIGTERM; says where
#                                      promsvc was imported from. (Several workers: test_serve.py.)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  wheel)
    out="$2"
    python3 -m pip wheel --quiet --no-deps --wheel-dir "$out" .
    ;;
  install)
    wheels="$2"; prefix="$3"
    python3 -m venv --without-pip "$prefix"
    if [ -n "${PROMSVC_TEST_DEPS_FROM:-}" ]; then
      site=$("$prefix/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
      echo "$PROMSVC_TEST_DEPS_FROM" > "$site/promsvc-build-deps.pth"
      python3 -m pip --python "$prefix/bin/python" install --quiet --no-deps --no-index "$wheels"/promsvc-*.whl
    else
      python3 -m pip --python "$prefix/bin/python" install --quiet --no-cache-dir "$wheels"/promsvc-*.whl
    fi
    ;;
  check)
    prefix="$2"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    export PROMSVC_DATABASE_URL="sqlite:///$work/check.sqlite3"
    cd "$work"  # nothing from the source tree: only what the wheel installed
    "$prefix/bin/python" -c 'import promsvc; print("build check: promsvc from", promsvc.__file__)'
    port=$("$prefix/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$prefix/bin/promsvc" serve --port "$port" >"$work/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
      if "$prefix/bin/python" -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:$port/health/ready').status != 200)" 2>/dev/null; then
        kill -TERM "$pid"; status=0; wait "$pid" || status=$?
        # uvicorn re-raises SIGTERM once it has shut down: 143 (128 + 15) after a clean stop.
        if [ "$status" -le 0 ] || { [ "$status" -eq 143 ] && grep -q "Application shutdown complete" "$work/serve.log"; }; then
          echo "build check: promsvc serve is ready and stopped cleanly"; exit 0
        fi
        cat "$work/serve.log" >&2; echo "build check: promsvc serve did not stop cleanly ($status)" >&2; exit 1
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
