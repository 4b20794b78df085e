"""Inputs and outputs as fsspec URLs (``s3://bucket/shoot/**/*.NEF``, ``gs://…``, ``file://…``).

A name with a scheme (``proto://``) is a URL; anything else is a local path and never goes
through here. ``file://`` URLs become local paths (:func:`local_path`), so local files keep
every guarantee of :mod:`lhe.io` (atomic rename, stale temporary clean-up). Other URLs are
read whole into memory and written atomically:

- on object stores (S3, GCS, Azure, …) an object appears only once its upload completes, so
  the output is encoded into a local temporary file and uploaded in one put under its final
  name: a failure or a kill leaves no half object under that name;
- on other filesystems (SFTP, HDFS, …) the file is uploaded under a temporary ``.lhe-*`` name
  in the target folder and then renamed.

Credentials come only from each filesystem library's own environment (``AWS_*`` variables and
``~/.aws`` for s3fs, ``GOOGLE_APPLICATION_CREDENTIALS`` for gcsfs, fsspec's ``FSSPEC_*``
configuration): lhe takes none as an argument, refuses URLs that carry any, and names files
by their URL only. fsspec is imported when the first URL is met, so local runs never load it.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import uuid
from typing import Iterator

from lhe.errors import InputError, OutputError, WriteError

__all__ = [
    "is_url",
    "local_path",
    "check_url",
    "split_url",
    "url_join",
    "url_parent",
    "url_name",
    "glob_root",
    "find_urls",
    "exists",
    "isdir",
    "existing",
    "read_bytes",
    "open_url",
    "put_file",
    "OBJECT_STORES",
]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")
_GLOB_CHARS = set("*?[")

#: Protocols whose objects appear whole when an upload completes (one put is atomic).
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci", "oss", "memory"})

#: The package each protocol needs, for the message when it is missing.
_BACKENDS = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs", "abfss": "adlfs"}


def is_url(name: object) -> bool:
    """True for ``proto://…`` names (two letters or more, so ``C:\\…`` stays a path)."""
    return isinstance(name, str) and _SCHEME.match(name) is not None


def local_path(name: str) -> str:
    """``file:///a/b.jpg`` → ``/a/b.jpg``; any other name unchanged."""
    if isinstance(name, str) and name.lower().startswith("file://"):
        path = name[len("file://"):]
        if path.startswith("localhost/"):
            path = path[len("localhost"):]
        return path
    return name


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b.jpg`` → ``("s3", "bucket/a/b.jpg")``."""
    match = _SCHEME.match(url)
    if match is None:
        raise InputError(f"{url}: not a URL")
    return match.group(1).lower(), url[match.end():]


def check_url(url: str) -> None:
    """Refuse a URL that carries credentials (``s3://KEY:SECRET@bucket``), without repeating them."""
    protocol, rest = split_url(url)
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        raise InputError(
            f"a {protocol}:// URL holds credentials before '@'; lhe takes none on its command line: give them "
            "the filesystem library's usual way (for S3: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws)"
        )


def url_join(folder: str, *parts: str) -> str:
    protocol, rest = split_url(folder)
    joined = posixpath.join(rest.rstrip("/"), *[p.replace(os.sep, "/") for p in parts if p])
    return f"{protocol}://{joined}"


def url_parent(url: str) -> str:
    protocol, rest = split_url(url)
    return f"{protocol}://{posixpath.dirname(rest.rstrip('/'))}"


def url_name(url: str) -> str:
    return posixpath.basename(split_url(url)[1].rstrip("/"))


def glob_root(pattern: str) -> str:
    """The leading folders of a URL glob that hold no wildcard (``s3://b/shoot/**/*.nef`` → ``s3://b/shoot``)."""
    protocol, rest = split_url(pattern)
    parts = rest.split("/")
    fixed = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return f"{protocol}://{'/'.join(fixed)}"


def _filesystem(url: str):
    """The fsspec filesystem of ``url`` (cached by fsspec), with a one-line error when fsspec
    or the protocol's package is missing."""
    check_url(url)
    protocol, _ = split_url(url)
    try:
        import fsspec
    except ImportError:
        raise InputError(f"{url}: URLs need fsspec; pip install 'lhe[s3]' (or fsspec and the package for {protocol}://)") from None
    try:
        return fsspec.filesystem(protocol)
    except ImportError:
        package = _BACKENDS.get(protocol)
        hint = f"pip install 'lhe[{'s3' if package == 's3fs' else 'gcs' if package == 'gcsfs' else package}]'" if package in ("s3fs", "gcsfs") else (
            f"pip install {package}" if package else f"install the fsspec package for {protocol}://")
        raise InputError(f"{url}: {protocol}:// needs {package or 'a filesystem package'}; {hint}") from None
    except ValueError:
        raise InputError(f"{url}: fsspec knows no {protocol}:// filesystem") from None


def _spelled(fs, found: list[str], root: str) -> list[str]:
    """Listed paths as URLs spelled like ``root`` (its scheme and host kept: fsspec lists
    paths without them), sorted."""
    stripped = fs._strip_protocol(root).rstrip("/")
    urls = []
    for path in found:
        path = fs._strip_protocol(path)
        relative = path[len(stripped):].lstrip("/") if path.startswith(stripped + "/") else posixpath.basename(path)
        urls.append(f"{root.rstrip('/')}/{relative}")
    return sorted(urls)


@contextlib.contextmanager
def _errors(url: str, *, writing: bool = False) -> Iterator[None]:
    """A storage failure as one line naming the URL (never the credentials)."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(f"{url}: no such file") from None
    except PermissionError as exc:
        error = WriteError if writing else InputError
        raise error(f"{url}: access denied ({_short(exc)}); check the credentials in the environment") from None
    except OSError as exc:
        error = WriteError if writing else InputError
        raise error(f"{url}: {_short(exc)}") from None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def find_urls(pattern: str, *, recursive: bool) -> tuple[list[str], str | None, bool]:
    """The files a URL names: (files, root, listed). A glob (``**`` crosses folders) or a
    folder is listed, sorted, and its root returned; a plain file URL is returned as it is
    (a missing one is reported when it is read), with root None and ``listed`` False."""
    fs = _filesystem(pattern)
    with _errors(pattern):
        if _GLOB_CHARS & set(split_url(pattern)[1]):
            root = glob_root(pattern)
            matches = fs.glob(pattern, detail=True)
            return _spelled(fs, [m for m, e in matches.items() if e.get("type") != "directory"], root), root, True
        if fs.isdir(pattern):
            root = pattern.rstrip("/")
            if recursive:
                found = fs.find(root)
            else:
                found = [e["name"] for e in fs.ls(root, detail=True) if e.get("type") != "directory"]
            return _spelled(fs, found, root), root, True
    return [pattern], None, False


def exists(url: str) -> bool:
    fs = _filesystem(url)
    with _errors(url):
        return fs.exists(url)


def isdir(url: str) -> bool:
    fs = _filesystem(url)
    with _errors(url):
        return fs.isdir(url)


def existing(urls: list[str]) -> set[str]:
    """Those of ``urls`` that exist, with one listing per folder (not one request per file:
    a resumed job over 10⁵ outputs asks once per folder)."""
    found: set[str] = set()
    by_folder: dict[str, list[str]] = {}
    for url in urls:
        by_folder.setdefault(url_parent(url), []).append(url)
    for folder, members in by_folder.items():
        fs = _filesystem(folder)
        with _errors(folder):
            try:
                names = {fs._strip_protocol(e) for e in fs.ls(folder, detail=False, refresh=True)}
            except FileNotFoundError:
                names = set()
            except TypeError:  # a filesystem whose ls takes no refresh
                names = {fs._strip_protocol(e) for e in fs.ls(folder, detail=False)}
        found.update(url for url in members if fs._strip_protocol(url) in names)
    return found


def read_bytes(url: str) -> bytes:
    """The whole content of ``url``; a missing or empty file is an InputError."""
    fs = _filesystem(url)
    with _errors(url):
        data = fs.cat_file(url)
    if not data:
        raise InputError(f"{url}: file is empty (0 bytes)")
    return data


@contextlib.contextmanager
def open_url(url: str) -> Iterator:
    """A binary file object reading ``url`` (headers only are fetched by readers that seek)."""
    fs = _filesystem(url)
    with _errors(url):
        handle = fs.open(url, "rb")
    with handle:
        yield handle


def put_file(local: str, url: str, *, overwrite: bool) -> None:
    """Upload the finished local file ``local`` to ``url`` atomically (see the module's notes).

    Raises:
        OutputError: the output appeared meanwhile and ``overwrite`` is off.
        WriteError: the upload failed; nothing is left under ``url``.
    """
    fs = _filesystem(url)
    protocol, _ = split_url(url)
    path = fs._strip_protocol(url)
    with _errors(url, writing=True):
        if not overwrite and fs.exists(path):
            raise OutputError(f"{url}: already exists; pass --overwrite to replace it")
        if protocol in OBJECT_STORES:
            fs.put_file(local, path)
            return
        folder, name = posixpath.split(path)
        temporary = posixpath.join(folder, f".lhe-{uuid.uuid4().hex[:12]}-{name}")
        try:
            fs.put_file(local, temporary)
            fs.mv(temporary, path)
        finally:
            with contextlib.suppress(OSError):
                if fs.exists(temporary):
                    fs.rm(temporary)
