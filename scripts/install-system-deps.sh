#!/usr/bin/env bash
# Installs the real components the integration tests and the Windows lane run against (list below).
# Idempotent: does nothing when all are present. Debian/Ubuntu only; needs root or passwordless sudo, and fails loudly otherwise.
set -euo pipefail

# Every real component the test suite and the Windows lane run against, by Debian package:
# squid-openssl (Squid built with OpenSSL, for ssl_bump; replaces plain squid and ships the auth helpers),
# tinyproxy, apache2-utils (htpasswd), dnsmasq-base, dnsutils (dig), nsd (an authoritative zone with a CNAME
# loop behind dnsmasq; its packaged service is stopped and disabled: the tests start their own on loopback),
# samba + tools (a real AD DC), chromium (headless), wine64 and the mingw cross-compiler (Windows CPython lane),
# libnss-wrapper (a private hosts file for tinyproxy and mitmproxy, which resolve with the C library).
PACKAGES=(squid-openssl apache2-utils dnsmasq-base dnsutils nsd tinyproxy libnss-wrapper
          samba samba-dsdb-modules samba-vfs-modules samba-ad-provision ldb-tools faketime
          chromium wine64 gcc-mingw-w64-x86-64)

have_tool() {
    # `command -v` alone also reports non-executable files; insist on an executable one.
    local found
    found="$(command -v "$1" 2>/dev/null)" && [ -f "$found" ] && [ -x "$found" ] && return 0
    [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] || [ -x "/usr/lib/wine/$1" ]
}

have_squid_helpers() {
    local dir
    for dir in /usr/lib/squid /usr/lib64/squid /usr/libexec/squid; do
        if [ -x "$dir/basic_ncsa_auth" ] && [ -x "$dir/ntlm_fake_auth" ] && [ -x "$dir/security_file_certgen" ]; then
            return 0
        fi
    done
    return 1
}

have_squid_openssl() {
    # ssl_bump needs the OpenSSL build; Debian's plain `squid` is built without it.
    have_tool squid && { squid -v 2>/dev/null || /usr/sbin/squid -v 2>/dev/null; } | grep -q -- '--with-openssl'
}

have_samba_vfs() {
    # samba-tool's provisioned smb.conf loads the acl_xattr VFS module (Debian package samba-vfs-modules).
    local dir
    for dir in /usr/lib/x86_64-linux-gnu/samba/vfs /usr/lib/aarch64-linux-gnu/samba/vfs /usr/lib64/samba/vfs; do
        [ -f "$dir/acl_xattr.so" ] && return 0
    done
    return 1
}

have_nss_wrapper() {
    local lib
    for lib in /usr/lib/x86_64-linux-gnu/libnss_wrapper.so /usr/lib/aarch64-linux-gnu/libnss_wrapper.so \
               /usr/lib64/libnss_wrapper.so /usr/lib/libnss_wrapper.so; do
        [ -f "$lib" ] && return 0
    done
    return 1
}

TOOLS=(squid dnsmasq nsd nsd-checkconf htpasswd dig tinyproxy samba samba-tool ldbsearch faketime chromium wine64
       x86_64-w64-mingw32-gcc)

check_all() {
    missing=()
    local tool
    for tool in "${TOOLS[@]}"; do
        have_tool "$tool" || missing+=("$tool")
    done
    have_squid_helpers || missing+=("squid auth helpers")
    have_squid_openssl || missing+=("squid with OpenSSL")
    have_nss_wrapper || missing+=("libnss_wrapper")
    have_samba_vfs || missing+=("samba VFS modules")
}

check_all
if [ ${#missing[@]} -eq 0 ]; then
    echo "system deps: all present (${TOOLS[*]})"
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

# Services the packages may start on a systemd host (squid on :3128, tinyproxy, nsd on :53, Samba): the tests start their
# own instances on loopback, so stop the ones this install started (never one that was already running).
SERVICES=(squid tinyproxy nsd smbd nmbd winbind samba-ad-dc)
declare -A was_active=()
for svc in "${SERVICES[@]}"; do
    was_active[$svc]=no
    if [ -d /run/systemd/system ] && systemctl is-active --quiet "$svc" 2>/dev/null; then
        was_active[$svc]=yes
    fi
done

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

for svc in "${SERVICES[@]}"; do
    if [ "${was_active[$svc]}" = no ] && [ -d /run/systemd/system ] && systemctl is-active --quiet "$svc" 2>/dev/null
    then
        echo "system deps: stopping and disabling the $svc service the package started"
        "${SUDO[@]}" systemctl stop "$svc"
        "${SUDO[@]}" systemctl disable --quiet "$svc" || true
    fi
done

check_all
if [ ${#missing[@]} -ne 0 ]; then
    echo "error: still missing after install: ${missing[*]}" >&2
    exit 1
fi
echo "system deps: installed"
