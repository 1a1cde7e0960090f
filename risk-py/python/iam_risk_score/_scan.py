"""``scan()``: the policies in files and infrastructure code, as ``iam-risk-score scan``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from ._core import scan_json
from ._types import ScanResult

DEFAULT_THRESHOLD = 5


def scan(
    *paths: str | os.PathLike[str],
    threshold: int | None = DEFAULT_THRESHOLD,
    fail_on_category: Iterable[str] | None = None,
    max_file_size: int | None = None,
) -> ScanResult:
    """Find and score every IAM policy under ``paths``: standalone policy JSON (identity,
    resource, trust), CloudFormation and SAM templates, Terraform (``*.tf``, ``*.tf.json``),
    Terraform plans (``terraform show -json``) and account authorization details.

    Directories are walked as the CLI walks them (hidden entries and ``node_modules``
    skipped); paths are read relative to the working directory and labelled as given. The
    result is the CLI's ``scan --format json`` document, parsed (:func:`scan_json` gives the
    text itself, byte for byte): ``results`` (one entry per policy, with its v1 ``result``),
    ``errors`` (files that could not be read or scored), ``unresolved`` (policies the scan saw
    but could not resolve), ``totals`` and ``gate`` (``failed`` when a policy scores at or
    above ``threshold``, or finds a category in ``fail_on_category``). Nothing raises for a
    file that cannot be read: it is an entry in ``errors``.

    Raises ``FileNotFoundError`` for a path that does not exist, ``ValueError`` for a
    threshold outside 1-10, an unknown category or a ``max_file_size`` below 1, and
    ``TypeError`` for no path or a path that is not ``str``/``os.PathLike``.
    """
    text = scan_json(*paths, threshold=threshold, fail_on_category=fail_on_category, max_file_size=max_file_size)
    result: ScanResult = json.loads(text)
    return result
