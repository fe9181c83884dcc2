#!/usr/bin/env bash
# The one test command: system deps (squid, dnsmasq, htpasswd, dig), .venv, then ruff, mypy and the whole
# pytest suite, integration tests included. Runs every step, prints a summary, exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh

bash scripts/install-system-deps.sh || { echo "FAILED: system dependencies" >&2; exit 1; }
ensure_venv || { echo "FAILED: virtual environment" >&2; exit 1; }
ensure_tools_venv || { echo "FAILED: tools venv (mitmproxy)" >&2; exit 1; }

declare -a summary=()
failed=0
step() {
    local name="$1"; shift
    echo
    echo "== $name: $*"
    if "$@"; then
        summary+=("ok      $name")
    else
        summary+=("FAILED  $name (exit $?)")
        failed=1
    fi
}

# bench/ holds benchmark scripts; lint it too once it exists.
lint_dirs=(src tests)
[ -d bench ] && lint_dirs+=(bench)
step ruff .venv/bin/ruff check "${lint_dirs[@]}"
step "mypy (package, strict)" .venv/bin/mypy
step "mypy (test infra, strict)" .venv/bin/mypy --strict --explicit-package-bases tests/infra \
    tests/integration/conftest.py

pytest_log="$(mktemp)"
echo
echo "== pytest: all tests, integration included"
.venv/bin/pytest -q --durations=10 "$@" 2>&1 | tee "$pytest_log"
pytest_rc=${PIPESTATUS[0]}
pytest_line="$(grep -E '^=*.* in [0-9.]+s' "$pytest_log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')"
rm -f "$pytest_log"
if [ "$pytest_rc" -eq 0 ]; then
    summary+=("ok      pytest: $pytest_line")
else
    summary+=("FAILED  pytest (exit $pytest_rc): ${pytest_line:-no summary line}")
    failed=1
fi

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"
