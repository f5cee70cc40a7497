#!/usr/bin/env python3
"""Build a release bundle of the webconference platform on the Ansible controller.

The bundle is one tar file holding:
  wheelhouse/  the project's wheel and every dependency's wheel, for the hosts' Python and
               platform (hosts need no package index);
  share/       templates/, static/ and migrations/, which live outside the Python package;
               of static/node_modules, only the DSFR files the pages load (its stylesheet and
               the fonts and icons that stylesheet names), never the npm package files.
Builds are reproducible (SOURCE_DATE_EPOCH, sorted tar entries, fixed owners and times), so
the bundle's digest names the release: the same sources and dependencies give the same
release, and a second deployment changes nothing. Prints one JSON line:
{"release_id": ..., "bundle": ..., "created": true|false}.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Files the wheel is built from, and the folders shipped next to it.
PACKAGE_SOURCES = ("pyproject.toml", "portal", "sfu")
SHARED_FOLDERS = ("templates", "static", "migrations")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "*.egg-info", "build")
# static/'s npm set-up (docs/design.md) stays out of the bundle; copy_dsfr() picks what ships.
STATIC_IGNORED = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "node_modules", ".dsfr.yml", "package.json", "package-lock.json"
)
# The State design system, installed by `npm ci` in static/: the stylesheets the pages load,
# relative to the package; the files their url() name are found by reading them.
DSFR_PACKAGE = Path("node_modules/@gouvfr/dsfr")
DSFR_STYLESHEETS = ("dist/dsfr.min.css",)
DSFR_KEPT = ("LICENSE.md",)  # its licence travels with it
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+?)['"]?\s*\)""")
FIXED_TIME = 315532800  # 1980-01-01, the oldest time a zip entry can carry


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed: {' '.join(command)}")


def build_wheel(source: Path, work: Path, python: str) -> Path:
    tree = work / "source"
    tree.mkdir()
    for name in PACKAGE_SOURCES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, tree / name, ignore=IGNORED)
        else:
            shutil.copy2(path, tree / name)
    out = work / "wheel"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(FIXED_TIME), "PYTHONDONTWRITEBYTECODE": "1"}
    run(
        [python, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(tree)],
        env=env,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def download_dependencies(wheel: Path, wheelhouse: Path, args: argparse.Namespace) -> None:
    """Every dependency's wheel for the hosts' Python, then what pip's markers missed."""
    download(wheelhouse, args, [str(wheel), *args.extra])
    for _ in range(5):
        missing = missing_requirements(wheelhouse, args.python_version)
        if not missing:
            return
        download(wheelhouse, args, missing)
    raise SystemExit(f"dependencies still missing: {missing}")


def missing_requirements(wheelhouse: Path, python_version: str) -> list[str]:
    """Requirements of the wheels that hold on the hosts but have no wheel here.

    `pip download --python-version 3.11.2` evaluates `python_full_version` markers against
    the controller's own Python, so that redis's `async-timeout; python_full_version <
    "3.11.3"` is missed when the controller runs 3.11.3 or later.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    environment = {
        "python_full_version": python_version,
        "python_version": ".".join(python_version.split(".")[:2]),
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "extra": "",
    }
    present = {canonicalize_name(w.name.split("-")[0]) for w in wheelhouse.glob("*.whl")}
    missing = set()
    for wheel in wheelhouse.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
            for line in archive.read(metadata).decode().splitlines():
                if not line.startswith("Requires-Dist:"):
                    continue
                requirement = Requirement(line.split(":", 1)[1].strip())
                if requirement.marker is not None and not requirement.marker.evaluate(environment):
                    continue
                if canonicalize_name(requirement.name) not in present:
                    requirement.marker = None
                    missing.add(str(requirement))
    return sorted(missing)


def download(wheelhouse: Path, args: argparse.Namespace, requirements: list[str]) -> None:
    command = [
        args.python,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        str(wheelhouse),
        "--python-version",
        args.python_version,
        "--implementation",
        "cp",
    ]
    for platform in args.platform:
        command += ["--platform", platform]
    abi = "cp" + "".join(args.python_version.split(".")[:2])
    command += ["--abi", abi, "--abi", "abi3", "--abi", "none"]
    if args.constraints:
        command += ["--constraint", args.constraints]
    run(command + requirements)


def referenced_files(stylesheet: Path) -> set[Path]:
    """The local files a stylesheet names with url(): fonts, icons (data: URIs excepted)."""
    found = set()
    for reference in CSS_URL.findall(stylesheet.read_text(encoding="utf-8")):
        if reference.startswith(("data:", "#", "http:", "https:", "//")):
            continue
        found.add((stylesheet.parent / reference.split("?")[0].split("#")[0]).resolve())
    return found


def dsfr_package(static: Path) -> Path:
    """The installed DSFR package, or stop: checked first, before the slow steps."""
    package = static / DSFR_PACKAGE
    if not (package / "package.json").is_file():
        raise SystemExit(
            f"{package} is missing: run `npm ci` in {static} (.ci/setup does) before building"
            " a release; the pages load the DSFR from there"
        )
    return package


def copy_dsfr(static: Path, target: Path) -> None:
    """Copy into `target` (the bundle's static/) the DSFR files the pages load."""
    package = dsfr_package(static)
    wanted = {package / name for name in DSFR_KEPT}
    for name in DSFR_STYLESHEETS:
        wanted |= {package / name, *referenced_files(package / name)}
    for stylesheet in (static / "css").glob("*.css"):  # app.css borrows some DSFR icons
        wanted |= {p for p in referenced_files(stylesheet) if package in p.parents}
    for path in sorted(wanted):
        if not path.is_file():
            raise SystemExit(f"{path}, which a stylesheet names, is missing from the DSFR")
        destination = target / path.relative_to(static)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def add_tree(bundle: tarfile.TarFile, root: Path, prefix: str) -> None:
    """Add `root` under `prefix` with sorted entries and fixed metadata (reproducible)."""
    paths = sorted(p for p in root.rglob("*") if not p.name.endswith(".pyc"))
    for path in [root, *paths]:
        if "__pycache__" in path.relative_to(root).parts:
            continue
        name = prefix if path == root else f"{prefix}/{path.relative_to(root).as_posix()}"
        info = tarfile.TarInfo(name)
        info.mtime, info.uid, info.gid, info.uname, info.gname = FIXED_TIME, 0, 0, "root", "root"
        if path.is_dir():
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            bundle.addfile(info)
        elif path.is_file():
            data = path.read_bytes()
            info.size, info.mode = len(data), 0o644
            bundle.addfile(info, io.BytesIO(data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, type=Path, help="the repository's root")
    parser.add_argument("--out", required=True, type=Path, help="where bundles are kept")
    parser.add_argument("--python", default=sys.executable, help="Python that runs pip")
    parser.add_argument(
        "--python-version", default="3.11.2", help="the hosts' Python (full: markers use it)"
    )
    parser.add_argument("--platform", action="append", required=True, help="pip platform tag")
    parser.add_argument("--constraints", default="", help="pip constraints file (optional)")
    parser.add_argument(
        "--extra", action="append", default=[], help="a requirement installed with the project"
    )
    args = parser.parse_args()

    dsfr_package(args.source.resolve() / "static")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="webconf-release-") as tmp:
        work = Path(tmp)
        wheelhouse = work / "wheelhouse"
        wheelhouse.mkdir()
        wheel = build_wheel(args.source.resolve(), work, args.python)
        shutil.copy2(wheel, wheelhouse / wheel.name)
        download_dependencies(wheel, wheelhouse, args)
        staging = work / "bundle.tar"
        with tarfile.open(staging, "w", format=tarfile.PAX_FORMAT) as bundle:
            add_tree(bundle, wheelhouse, "wheelhouse")
            share = work / "share"
            share.mkdir()
            source = args.source.resolve()
            for name in SHARED_FOLDERS:
                ignore = STATIC_IGNORED if name == "static" else IGNORED
                shutil.copytree(source / name, share / name, ignore=ignore)
            copy_dsfr(source / "static", share / "static")
            add_tree(bundle, share, "share")
        digest = hashlib.sha256(staging.read_bytes()).hexdigest()
        release_id = digest[:16]
        target = args.out / f"webconf-{release_id}.tar"
        created = not target.exists()
        if created:
            shutil.move(staging, target)
    print(
        json.dumps(
            {
                "release_id": release_id,
                "bundle": str(target),
                "wheel": wheel.name,
                "created": created,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
