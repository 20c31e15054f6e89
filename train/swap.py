"""Replacing a directory so that a crash at any instant leaves the old or the new one whole.

The new directory is written beside the target under a staging name, then swapped in. On
Linux the swap is one ``renameat2(RENAME_EXCHANGE)`` system call: the target path names the
old directory until the call and the new one after it, never nothing. Where that call is
missing (other systems, some file systems) the swap is two renames, and a crash between them
leaves the target missing for a moment; the next save or load puts the old directory back.

Every leftover carries the host and process id of its writer, so a later run can tell a
crashed writer's leftovers (removed, or restored) from a live writer's (left alone).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import secrets
import shutil
import socket
import time
from pathlib import Path

__all__ = ["new_staging_dir", "recover_and_clean", "swap_into_place"]

_STAGING, _RETIRED = "staging", "retired"
# Leftovers of releases before this module (mkdtemp names, no writer id): removed once they
# are older than this, the longest a save plausibly takes.
_LEGACY_AGE_SECONDS = 3600
# What a model directory holds; an older release's leftover is removed only if it holds no more.
_MODEL_FILES = {"model.joblib", "metadata.json", "README.md"}
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


def _leftover_name(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{kind}-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def new_staging_dir(target: Path) -> Path:
    """A fresh empty directory beside ``target``, with the umask's permissions (mkdtemp's
    0700 would keep colleagues from loading a shared model)."""
    staging = _leftover_name(target, _STAGING)
    staging.mkdir(mode=0o777)
    return staging


def _exchange_function():
    """libc's renameat2, or None where there is none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    return function


_renameat2 = _exchange_function()


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one system call; False when this system or file system cannot."""
    if _renameat2 is None:
        return False
    result = _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                        _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def swap_into_place(staging: Path, target: Path) -> None:
    """Make ``staging`` the directory at ``target``; the old one (if any) is removed."""
    if not os.path.lexists(target):
        try:
            os.rename(staging, target)
            _sync_directory(target.parent)
            return
        except OSError as error:  # another writer got there first: swap with its directory
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if _exchange(staging, target):
        _sync_directory(target.parent)
        shutil.rmtree(staging, ignore_errors=True)  # now the old model
        return
    retired = _leftover_name(target, _RETIRED)
    os.rename(target, retired)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired, target)
        raise
    _sync_directory(target.parent)
    shutil.rmtree(retired, ignore_errors=True)


def _writer_is_gone(name: str, prefix: str) -> bool | None:
    """Whether the writer of a leftover has died; None when the name is not one of ours."""
    match = re.fullmatch(re.escape(prefix) + r"(staging|retired)-(.+)-(\d+)-[0-9a-f]{8}", name)
    if match is None:
        return None
    host, pid = match.group(2), int(match.group(3))
    if host != _host() or os.name != "posix":  # (on Windows os.kill(pid, 0) sends Ctrl-C)
        return None
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _holds_only_model_files(path: str) -> bool:
    try:
        return set(os.listdir(path)) <= _MODEL_FILES
    except OSError:
        return False


def _is_legacy_name(name: str, prefix: str, retired: bool | None = None) -> bool:
    """``.NAME.xxxxxxxx`` (staging) or ``.NAME.old.xxxxxxxx`` (retired): mkdtemp's names."""
    pattern = {None: r"(old\.)?", True: r"old\.", False: ""}[retired] + r"[a-z0-9_]{8}"
    return re.fullmatch(re.escape(prefix) + pattern, name) is not None


def _is_legacy_leftover(entry: os.DirEntry, prefix: str) -> bool:
    """A staging or retired directory of an older release holding nothing but model files,
    old enough that no save can still be writing it."""
    if not _is_legacy_name(entry.name, prefix) or not _holds_only_model_files(entry.path):
        return False
    try:
        return time.time() - entry.stat(follow_symlinks=False).st_mtime > _LEGACY_AGE_SECONDS
    except OSError:
        return False


def recover_and_clean(target: Path) -> None:
    """Undo what a killed save left beside ``target``: put the old directory back if the
    target is missing, then remove crashed writers' staging and retired directories.

    Best effort: a read-only parent (a shared model) is left as it is.
    """
    target = Path(target)
    prefix = f".{target.name}."
    try:
        entries = [entry for entry in os.scandir(target.parent)
                   if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False)]
    except OSError:
        return
    dead = []
    for entry in entries:
        gone = _writer_is_gone(entry.name, prefix)
        if gone or (gone is None and _is_legacy_leftover(entry, prefix)):
            dead.append(entry)
    if not os.path.lexists(target):
        # The old directory of a two-rename swap killed half-way (an older release's too,
        # however recent: with the target missing no save of it is still running).
        retired = [entry for entry in entries
                   if (entry in dead and ".retired-" in entry.name)
                   or (_is_legacy_name(entry.name, prefix, retired=True)
                       and _holds_only_model_files(entry.path))]
        retired.sort(key=lambda entry: entry.stat(follow_symlinks=False).st_mtime)
        if retired:
            with contextlib.suppress(OSError):
                os.rename(retired[-1].path, target)
                if retired[-1] in dead:
                    dead.remove(retired[-1])
    for entry in dead:
        shutil.rmtree(entry.path, ignore_errors=True)
