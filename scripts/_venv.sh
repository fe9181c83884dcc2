# Sourced by test.sh and demo.sh: create or refresh the project's .venv and install the package into it.
# Reinstalls only when pyproject.toml or the Python version changed (the package is installed editable,
# so source changes need no reinstall).

AADC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AADC_VENV="$AADC_ROOT/.venv"

ensure_venv() {
    local python="${PYTHON:-python3}"
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "error: $python not found; install Python 3.11 or newer (or set PYTHON=/path/to/python3)" >&2
        return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "error: $("$python" -V 2>&1) is too old; aadc-doctor needs Python 3.11 or newer" >&2
        return 1
    fi
    if [ ! -x "$AADC_VENV/bin/python" ] || ! "$AADC_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        echo "venv: creating $AADC_VENV"
        "$python" -m venv --clear "$AADC_VENV" || return 1
    fi
    local stamp_file="$AADC_VENV/.aadc-install-stamp" stamp
    stamp="$(sha256sum <"$AADC_ROOT/pyproject.toml" | cut -d" " -f1) $("$AADC_VENV/bin/python" -V 2>&1)"
    if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ] && [ -x "$AADC_VENV/bin/aadc-doctor" ] \
        && "$AADC_VENV/bin/python" -c 'import aadc_doctor' >/dev/null 2>&1; then
        echo "venv: up to date ($AADC_VENV)"
        return 0
    fi
    echo "venv: installing aadc-doctor with test extras into $AADC_VENV"
    "$AADC_VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$AADC_ROOT[test]" || return 1
    printf '%s\n' "$stamp" >"$stamp_file"
}

# mitmproxy (a real TLS-inspecting proxy for the integration tests) pins its own dependencies, so it lives in a
# venv of its own, .venv-tools, run as a subprocess (tests/infra/mitmproxy.py); reinstalled when missing.
AADC_TOOLS_VENV="$AADC_ROOT/.venv-tools"

ensure_tools_venv() {
    local python="${PYTHON:-python3}"
    if [ -x "$AADC_TOOLS_VENV/bin/mitmdump" ] && "$AADC_TOOLS_VENV/bin/mitmdump" --version >/dev/null 2>&1; then
        echo "tools venv: up to date ($AADC_TOOLS_VENV)"
        return 0
    fi
    echo "tools venv: installing mitmproxy into $AADC_TOOLS_VENV"
    "$python" -m venv --clear "$AADC_TOOLS_VENV" || return 1
    "$AADC_TOOLS_VENV/bin/python" -m pip install -q --disable-pip-version-check mitmproxy || return 1
}
