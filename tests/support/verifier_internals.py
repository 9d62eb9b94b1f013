"""The one place outside verifier/ that names verifier's private modules.

Users of the library import from ``verifier``, ``verifier.formats``, ``verifier.sdjwt`` and
``verifier.handheld`` (docs/dev/verifier-api.md). White-box tests, the atheris harnesses in
fuzz/ and the benchmarks in bench/ also pin down internals no user should call: a fast path
against the general path it shortcuts, the compact plate index cache, the words of the
officer's screen, the CLI run in-process with its own environment and clock, the pieces of
sync. They import those names from here, never from ``verifier._*`` themselves, so that a
reader sees every reach into the package in one list.

tests/verifier/test_exported_members.py fails on any other import of a private name from
outside verifier/, on a name here that is public anyway, and on a name here that nothing
uses any more.
"""

from __future__ import annotations

from verifier import _claims as claims_module  # monkeypatched: our own bugs propagate
from verifier import _keys as keys_module  # monkeypatched: a scan parses no key
from verifier import _plate_cache as plate_cache  # the compact plate index form
from verifier._base45 import ALPHABET, MAX_BASE45_CHARS
from verifier._cbor import MAX_DEPTH as CBOR_MAX_DEPTH
from verifier._cbor import _decode as cbor_decode_per_thread
from verifier._cose import _permit_shape as permit_shape
from verifier._cose import decode_permit_parts
from verifier._enrol import ASSERTION_TYPE
from verifier._http import FetchError, read_regular_file
from verifier._i18n import LANGUAGES, NOTICE_WORDS, OUTCOME_WORDS, REASON_WORDS, pick_language
from verifier._jwe import _content_key as jwe_content_key
from verifier._plate_index import _entry_list as plate_entry_list
from verifier._status import MAX_STATUS_LIST_BYTES
from verifier._store import CACHE_SUFFIX as PLATE_CACHE_SUFFIX
from verifier._store import MAX_ANCHORS_PER_FILE, fetch, parse_anchor, parse_anchors
from verifier._sync import Backoff, parse_duration
from verifier._verdict import INDETERMINATE_REASONS, VERDICT_REASONS, failed, outcome_for
from verifier._verify import in_windows
from verifier.cli import _Io as CliIo
from verifier.sdjwt._encoding import json_loads as sdjwt_json_loads
from verifier.sdjwt._key_binding import holder_key as sdjwt_holder_key

__all__ = [
    "ALPHABET",
    "ASSERTION_TYPE",
    "CBOR_MAX_DEPTH",
    "INDETERMINATE_REASONS",
    "LANGUAGES",
    "MAX_ANCHORS_PER_FILE",
    "MAX_BASE45_CHARS",
    "MAX_STATUS_LIST_BYTES",
    "NOTICE_WORDS",
    "OUTCOME_WORDS",
    "PLATE_CACHE_SUFFIX",
    "REASON_WORDS",
    "VERDICT_REASONS",
    "Backoff",
    "CliIo",
    "FetchError",
    "cbor_decode_per_thread",
    "claims_module",
    "decode_permit_parts",
    "failed",
    "fetch",
    "in_windows",
    "jwe_content_key",
    "keys_module",
    "outcome_for",
    "parse_anchor",
    "parse_anchors",
    "parse_duration",
    "permit_shape",
    "pick_language",
    "plate_cache",
    "plate_entry_list",
    "read_regular_file",
    "sdjwt_holder_key",
    "sdjwt_json_loads",
]
