#!/usr/bin/env bash
# The main job in one command: set up .venv and run `aadc-doctor demo` (the built-in local lab: impersonated
# Microsoft endpoints with real TLS, a proxy with allow/deny rules and authentication). Needs no internet and
# no root. Extra arguments go to the demo command, e.g. `bash scripts/demo.sh --json`.
set -euo pipefail
# shellcheck source=scripts/_venv.sh
source "$(dirname "$0")/_venv.sh"
ensure_venv >&2
exec "$AADC_VENV/bin/aadc-doctor" demo "$@"
