"""The network file format: one ``.npz`` of a JSON ``meta`` entry and one int8 ``weight/<layer>``
entry per layer, several networks in one file under ``<prefix>:`` keys.

The entries are checked on reading: the magic and schema version, the architecture (it must be
aann's own description of it), the dtype of every layer, no stray entries, and the checksum of the
weights. :class:`aann_env.core.network.TernaryNetwork` reads and writes itself through
:func:`encode`, :func:`decode` and :func:`read_file`.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from aann_env.core.architecture import Architecture, get_architecture
from aann_env.errors import CheckpointError

SCHEMA_VERSION = 1
"""Version of the network file format written by :meth:`TernaryNetwork.save`."""

FILE_MAGIC = "aann-ternary-network"


def encode(
    meta: Mapping[str, Any], weights: Mapping[str, np.ndarray], order: Iterable[str], prefix: str
) -> dict[str, np.ndarray]:
    """The file entries of one network: ``meta`` (JSON) and ``weight/<layer>`` (int8).

    Args:
        meta: The network's metadata (``TernaryNetwork.metadata()``).
        weights: Layer name -> int8 weights.
        order: The layer names in order.
        prefix: Prepended to every key as ``<prefix>:`` (several networks in one file).
    """
    head = f"{prefix}:" if prefix else ""
    out = {f"{head}meta": np.array(json.dumps(dict(meta)))}
    for name in order:
        out[f"{head}weight/{name}"] = weights[name]
    return out


def read_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every entry of a network file.

    Raises:
        CheckpointError: The file is missing, not a zip, or truncated.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no network file at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise CheckpointError(
            f"{path} is not a readable network file ({type(exc).__name__}: {exc}); it may be "
            "truncated or corrupted: restore it or save the network again"
        ) from exc


def decode(
    contents: Mapping[str, np.ndarray],
    where: str,
    arch: str | Architecture | None = None,
    prefix: str = "",
) -> tuple[dict[str, Any], Architecture, dict[str, np.ndarray], str]:
    """The checked metadata, architecture and weights of the network under ``prefix``.

    Returns:
        (metadata, architecture, weights, ``where`` naming the network in later messages).

    Raises:
        CheckpointError: An entry is missing, of the wrong type, unexpected, or of another
            schema or architecture.
    """
    if prefix:
        head = f"{prefix}:"
        contents = {k[len(head) :]: v for k, v in contents.items() if k.startswith(head)}
        where = f"{where} ({prefix} network)"
    meta, stored_arch = read_meta(contents, where, arch)
    weights: dict[str, np.ndarray] = {}
    for name in stored_arch.layer_names:
        key = f"weight/{name}"
        if key not in contents:
            raise CheckpointError(f"{where}: missing weights of layer {name!r}")
        array = contents[key]
        if array.dtype != np.int8:
            raise CheckpointError(f"{where}: layer {name!r} has dtype {array.dtype}, expected int8")
        weights[name] = array
    extra = set(contents) - {"meta"} - {f"weight/{n}" for n in stored_arch.layer_names}
    if extra:
        raise CheckpointError(f"{where}: unexpected entries {sorted(extra)}")
    return meta, stored_arch, weights, where


def read_meta(
    contents: Mapping[str, np.ndarray], where: str, arch: str | Architecture | None
) -> tuple[dict[str, Any], Architecture]:
    """The validated metadata entry of a network's arrays, and the architecture it names."""
    if "meta" not in contents:
        raise CheckpointError(f"{where} has no metadata: it is not an aann network file")
    try:
        meta = json.loads(str(contents["meta"]))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{where}: metadata is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("magic") != FILE_MAGIC:
        raise CheckpointError(f"{where} is not an aann network file")
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CheckpointError(
            f"{where} has schema version {version}; this aann reads version {SCHEMA_VERSION}"
        )
    try:
        stored_arch = get_architecture(meta["architecture"]["name"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{where}: unknown or missing architecture ({exc})") from exc
    if meta["architecture"] != stored_arch.to_dict():
        raise CheckpointError(
            f"{where}: its architecture description differs from aann's {stored_arch.name!r} "
            "architecture; it was written by an incompatible version"
        )
    if arch is not None:
        wanted = get_architecture(arch) if isinstance(arch, str) else arch
        if wanted != stored_arch:
            raise CheckpointError(
                f"{where} holds a {stored_arch.name!r} network, but a {wanted.name!r} network is needed"
            )
    return meta, stored_arch


def weights_digest(weights: Mapping[str, np.ndarray], order: Iterable[str]) -> str:
    """SHA-256 over the layers' int8 bytes in layer order."""
    h = hashlib.sha256()
    for name in order:
        h.update(name.encode())
        h.update(np.ascontiguousarray(weights[name], dtype=np.int8).tobytes())
    return h.hexdigest()
