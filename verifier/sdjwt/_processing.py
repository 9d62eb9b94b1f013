"""RFC 9901 §7.1 step 3: the digests of the issuer-signed payload replaced by the disclosed
claims, bounded in depth, every digest and Disclosure used at most once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

from verifier._errors import DecodeError, Reason
from verifier.sdjwt._encoding import digest
from verifier.sdjwt._parsing import disclosure_content

ClaimPath: TypeAlias = tuple[str | int, ...]
"""A claim by keys and array indexes from the top: ("address", "locality"), ("nationalities", 0)."""

_NO_DIGESTS: list[Any] = []  # an object without `_sd`; only ever read
_CONTAINERS = (dict, list)


class Processor:
    """RFC 9901 §7.1 step 3: replace digests by the disclosed values, bounded.

    Takes the Disclosures as received; each is checked (``disclosure_content``) and kept
    under its digest as ``(claim name or None, value)``.
    """

    def __init__(self, disclosures: Iterable[str], max_depth: int) -> None:
        by_digest: dict[str, tuple[str | None, Any]] = {}
        for text in disclosures:
            content = disclosure_content(text)
            hashed = digest(text)
            if hashed in by_digest:
                raise DecodeError(Reason.DUPLICATE_DISCLOSURE, "Disclosure sent twice")
            name = content[1] if len(content) == 3 else None
            by_digest[hashed] = (name, content[-1])
        self.by_digest = by_digest
        self.seen: set[str] = set()
        self.used = 0  # Disclosures found behind a digest; each digest is seen once
        self.paths: list[ClaimPath] = []
        self.max_depth = max_depth

    def _claim(self, hashed: Any) -> tuple[str | None, Any] | None:
        if not isinstance(hashed, str):
            raise DecodeError(Reason.BAD_SD_JWT, "digest must be a string")
        if hashed in self.seen:
            raise DecodeError(Reason.DUPLICATE_DIGEST, "digest appears more than once")
        self.seen.add(hashed)
        found = self.by_digest.get(hashed)
        if found is not None:
            self.used += 1
        return found

    def value(self, node: Any, path: ClaimPath) -> Any:
        if len(path) > self.max_depth:
            raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
        if isinstance(node, dict):
            return self.obj(node, path)
        if isinstance(node, list):
            return self.array(node, path)
        return node

    def obj(self, node: dict[str, Any], path: ClaimPath) -> dict[str, Any]:
        digests = node.get("_sd", _NO_DIGESTS)
        if not isinstance(digests, list):
            raise DecodeError(Reason.BAD_SD_JWT, "_sd must be an array")
        out = dict(node)  # scalars are kept as they are; containers are walked below
        if digests is not _NO_DIGESTS:
            del out["_sd"]
        if not path:
            out.pop("_sd_alg", None)
        # what `value` checks per child, once: a child's path is one longer than ours
        if out and len(path) >= self.max_depth:
            raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
        for key, value in out.items():
            if isinstance(value, _CONTAINERS):  # one test for the many scalars
                if isinstance(value, dict):
                    out[key] = self.obj(value, (*path, key))
                else:
                    out[key] = self.array(value, (*path, key))
        seen, by_digest = self.seen, self.by_digest
        for hashed in digests:
            # `_claim`, written out: an object carries most of the digests
            if not isinstance(hashed, str):
                raise DecodeError(Reason.BAD_SD_JWT, "digest must be a string")
            if hashed in seen:
                raise DecodeError(Reason.DUPLICATE_DIGEST, "digest appears more than once")
            seen.add(hashed)
            found = by_digest.get(hashed)
            if found is None:
                continue  # decoy or not disclosed
            self.used += 1
            name, value = found
            if name is None:
                raise DecodeError(Reason.BAD_DISCLOSURE, "array Disclosure behind an object digest")
            if name in out:
                raise DecodeError(Reason.CLAIM_COLLISION, "claim name already present")
            claim_path = (*path, name)
            if isinstance(value, _CONTAINERS):
                value = self.value(value, claim_path)
            elif len(claim_path) > self.max_depth:  # `value` for a scalar
                raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
            out[name] = value
            self.paths.append(claim_path)
        return out

    def array(self, node: list[Any], path: ClaimPath) -> list[Any]:
        out: list[Any] = []
        too_deep = len(path) >= self.max_depth
        for element in node:
            if isinstance(element, dict) and len(element) == 1 and "..." in element:
                found = self._claim(element["..."])
                if found is None:
                    continue
                name, value = found
                if name is not None:
                    raise DecodeError(
                        Reason.BAD_DISCLOSURE, "object Disclosure behind an array digest"
                    )
                element_path = (*path, len(out))
                out.append(self.value(value, element_path))
                self.paths.append(element_path)
            elif too_deep:
                raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
            elif isinstance(element, dict):
                out.append(self.obj(element, (*path, len(out))))
            elif isinstance(element, list):
                out.append(self.array(element, (*path, len(out))))
            else:
                out.append(element)
        return out
