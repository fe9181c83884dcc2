#!/usr/bin/env bash
# The Windows lane: the release zip run by Windows CPython under Wine (Debian wine64), driven by pytest from
# Linux (tests/windows). Builds the zip first when it is missing or older than the sources. Fails loudly when
# Wine, mingw or the build is missing: nothing is skipped. Extra arguments go to pytest (e.g. -k demo).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
# shellcheck source=scripts/_venv.sh
source scripts/_venv.sh

wine=""
for candidate in /usr/lib/wine/wine64 /usr/bin/wine64 /usr/bin/wine; do
    [ -x "$candidate" ] && { wine="$candidate"; break; }
done
if [ -z "$wine" ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1; then
    echo "FAILED: the Windows lane needs Wine (wine64) and x86_64-w64-mingw32-gcc; run bash scripts/install-system-deps.sh" >&2
    exit 1
fi
ensure_venv || { echo "FAILED: virtual environment" >&2; exit 1; }

version="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' src/aadc_doctor/__init__.py)"
zip="dist/aadc-doctor-${version}-win-amd64.zip"
# README.md too: the wheel's METADATA carries it (pyproject's readme), so it is part of the zip's bytes
if [ ! -f "$zip" ] || [ -n "$(find src packaging pyproject.toml README.md scripts/build_windows.py -newer "$zip" -type f \
        -print -quit)" ]; then
    echo "== build: $zip (missing or older than the sources)"
    bash scripts/build-windows.sh || { echo "FAILED: scripts/build-windows.sh" >&2; exit 1; }
fi
[ -f "$zip" ] || { echo "FAILED: $zip was not built" >&2; exit 1; }

echo "== Windows lane: $zip under $("$wine" --version 2>/dev/null)"
log="$(mktemp)"
AADC_WINDOWS_LANE=1 AADC_WINDOWS_ZIP="$PWD/$zip" .venv/bin/pytest tests/windows -q -p no:cacheprovider \
    -s --durations=10 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
line="$(grep -E '^=*.* in [0-9.]+s' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ =+$//')"
# which tests failed inside Windows CPython, repeated at the very end, where a CI log is read
inner="$(grep -E '^(FAILED|ERROR) tests[\/]' "$log" | grep -v '^FAILED tests/windows/' | head -n 20)"
rm -f "$log"
echo
[ -n "$inner" ] && printf 'Windows CPython pytest failures:\n%s\n' "$inner"
echo "== Windows lane summary: ${line:-no summary line} (exit $rc)"
exit "$rc"
