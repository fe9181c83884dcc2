#!/usr/bin/env bash
# Installs the real components the integration tests run against: squid (+ its auth helpers),
# htpasswd (apache2-utils), dnsmasq (dnsmasq-base) and dig (dnsutils). Idempotent: does nothing when all
# are present. Debian/Ubuntu only; needs root or passwordless sudo, and fails loudly otherwise.
set -euo pipefail

PACKAGES=(squid apache2-utils dnsmasq-base dnsutils)

have_tool() {
    # `command -v` alone also reports non-executable files; insist on an executable one.
    local found
    found="$(command -v "$1" 2>/dev/null)" && [ -f "$found" ] && [ -x "$found" ] && return 0
    [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

have_squid_helpers() {
    local dir
    for dir in /usr/lib/squid /usr/lib64/squid /usr/libexec/squid; do
        if [ -x "$dir/basic_ncsa_auth" ] && [ -x "$dir/ntlm_fake_auth" ]; then
            return 0
        fi
    done
    return 1
}

missing=()
for tool in squid dnsmasq htpasswd dig; do
    have_tool "$tool" || missing+=("$tool")
done
have_squid_helpers || missing+=("squid auth helpers")

if [ ${#missing[@]} -eq 0 ]; then
    echo "system deps: squid, dnsmasq, htpasswd, dig present"
    exit 0
fi

echo "system deps: missing ${missing[*]}; installing ${PACKAGES[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get not found; install the equivalents of: ${PACKAGES[*]} (squid with basic_ncsa_auth and" \
         "ntlm_fake_auth, htpasswd, dnsmasq, dig) with your system's package manager" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "error: installing ${PACKAGES[*]} needs root; rerun as root or with passwordless sudo:" >&2
    echo "  sudo bash scripts/install-system-deps.sh" >&2
    exit 1
fi

squid_was_active=no
if [ -d /run/systemd/system ] && systemctl is-active --quiet squid 2>/dev/null; then
    squid_was_active=yes
fi

# A mirror hiccup should not fail a CI run: retry each apt step a few times.
retry() {
    local attempt
    for attempt in 1 2 3; do
        "$@" && return 0
        echo "system deps: '$*' failed (attempt $attempt of 3)" >&2
        sleep $((attempt * 5))
    done
    return 1
}
retry "${SUDO[@]}" apt-get update -q
retry "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"

# On a host with systemd the squid package starts its service on :3128. The tests start their own squid
# instances on free ports; stop the packaged one we just caused to start (never one that was already running).
if [ "$squid_was_active" = no ] && [ -d /run/systemd/system ] && systemctl is-active --quiet squid 2>/dev/null; then
    echo "system deps: stopping and disabling the squid service the package started"
    "${SUDO[@]}" systemctl stop squid
    "${SUDO[@]}" systemctl disable --quiet squid || true
fi

still_missing=()
for tool in squid dnsmasq htpasswd dig; do
    have_tool "$tool" || still_missing+=("$tool")
done
have_squid_helpers || still_missing+=("squid auth helpers")
if [ ${#still_missing[@]} -ne 0 ]; then
    echo "error: still missing after install: ${still_missing[*]}" >&2
    exit 1
fi
echo "system deps: installed"
