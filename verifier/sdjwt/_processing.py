"""RFC 9901 §7.1 step 3: the digests of the issuer-signed payload replaced by the disclosed
claims, bounded in depth, every digest and Disclosure used at most once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeAlias

from verifier._errors import DecodeError, Reason
from verifier.sdjwt._encoding import digest
from verifier.sdjwt._parsing import Disclosure

ClaimPath: TypeAlias = tuple[str | int, ...]
"""A claim by keys and array indexes from the top: ("address", "locality"), ("nationalities", 0)."""


class Processor:
    """RFC 9901 §7.1 step 3: replace digests by the disclosed values, bounded."""

    def __init__(self, disclosures: Iterable[Disclosure], max_depth: int) -> None:
        self.by_digest: dict[str, Disclosure] = {}
        for disclosure in disclosures:
            hashed = digest(disclosure.text)
            if hashed in self.by_digest:
                raise DecodeError(Reason.DUPLICATE_DISCLOSURE, "Disclosure sent twice")
            self.by_digest[hashed] = disclosure
        self.seen: set[str] = set()
        self.used: set[str] = set()
        self.paths: list[ClaimPath] = []
        self.max_depth = max_depth

    def _claim(self, hashed: Any) -> Disclosure | None:
        if not isinstance(hashed, str):
            raise DecodeError(Reason.BAD_SD_JWT, "digest must be a string")
        if hashed in self.seen:
            raise DecodeError(Reason.DUPLICATE_DIGEST, "digest appears more than once")
        self.seen.add(hashed)
        found = self.by_digest.get(hashed)
        if found is not None:
            self.used.add(hashed)
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
        digests = node.get("_sd", [])
        if not isinstance(digests, list):
            raise DecodeError(Reason.BAD_SD_JWT, "_sd must be an array")
        out: dict[str, Any] = {}
        # what `value` checks per child, once: a child's path is one longer than ours
        too_deep = len(path) >= self.max_depth
        for key, value in node.items():
            if key == "_sd" or (not path and key == "_sd_alg"):
                continue
            if too_deep:
                raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
            if isinstance(value, dict):
                out[key] = self.obj(value, (*path, key))
            elif isinstance(value, list):
                out[key] = self.array(value, (*path, key))
            else:
                out[key] = value  # a scalar needs no walk
        for hashed in digests:
            found = self._claim(hashed)
            if found is None:
                continue  # decoy or not disclosed
            if found.name is None:
                raise DecodeError(Reason.BAD_DISCLOSURE, "array Disclosure behind an object digest")
            if found.name in out:
                raise DecodeError(Reason.CLAIM_COLLISION, "claim name already present")
            claim_path = (*path, found.name)
            out[found.name] = self.value(found.value, claim_path)
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
                if found.name is not None:
                    raise DecodeError(
                        Reason.BAD_DISCLOSURE, "object Disclosure behind an array digest"
                    )
                element_path = (*path, len(out))
                out.append(self.value(found.value, element_path))
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
