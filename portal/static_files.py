"""Static files (CSS, JS, images) under content-hashed names, served by WhiteNoise compressed and
cacheable for a year.

At start each process hashes the files of `static/` (70 KB, ~1 ms) and, the first time a set of files
is seen, copies them into `<instance>/static/<build>/` under both their own names and hashed ones
(`css/portal.3f2a91c0d4e5.css`) with brotli and gzip versions beside them (WhiteNoise's Compressor).
`url_for('static', filename='css/portal.css')` gives the hashed name, which WhiteNoise serves with
`Cache-Control: max-age=31536000, public, immutable`: a changed file has a new name, so a phone never
asks for a file twice and never keeps a stale one. The plain names stay served (max-age 60) for
anything that links to them directly. A build folder is written under a temporary name and renamed
into place, so workers starting together never serve a half-written file.
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

YEAR = 365 * 24 * 60 * 60


class StaticFiles(WhiteNoise):
    FOREVER = YEAR  # WhiteNoise's "immutable" lifetime is ten years; a year is what browsers honour


def hashed_names(source: Path) -> dict[str, str]:
    """{'css/portal.css': 'css/portal.<12 hex>.css', …} for every file under `source`."""
    names = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = path.relative_to(source).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        stem, dot, suffix = path.name.partition(".")
        hashed = f"{stem}.{digest}.{suffix}" if dot else f"{stem}.{digest}"
        names[name] = str(Path(name).with_name(hashed).as_posix())
    return names


def build(source: Path, target_root: Path, names: dict[str, str]) -> Path:
    """The build folder for these files (made once): each file under its own and its hashed name,
    with .br and .gz beside it."""
    build_id = hashlib.sha256("\n".join(f"{k} {v}" for k, v in names.items()).encode()).hexdigest()[:16]
    built = target_root / build_id
    if built.is_dir():
        return built
    target_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target_root))
    compressor = Compressor(quiet=True)
    for name, hashed in names.items():
        for copy in {name, hashed}:
            destination = scratch / copy
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, destination)
            if compressor.should_compress(copy):
                compressor.compress(str(destination))
    try:
        os.rename(scratch, built)
    except OSError:  # another process finished the same build first
        shutil.rmtree(scratch, ignore_errors=True)
    return built


def init_app(app) -> None:
    source = Path(app.static_folder)
    names = hashed_names(source)
    built = build(source, Path(app.instance_path) / "static", names)
    hashed = set(names.values())

    @app.url_defaults
    def _hashed_static_name(endpoint, values):
        if endpoint == "static" and values.get("filename") in names:
            values["filename"] = names[values["filename"]]

    app.wsgi_app = StaticFiles(
        app.wsgi_app, root=str(built), prefix=app.static_url_path.strip("/") + "/", max_age=60,
        allow_all_origins=False, immutable_file_test=lambda _path, url: url.split("/static/", 1)[-1] in hashed)
