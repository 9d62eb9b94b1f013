"""A test PID provider with its own CA: issues EU and German PIDs (SD-JWT VC, x5c chain)
and writes the trust-list file a relying party is configured with.

    provider = TestPidProvider.create(now=T0)
    path = provider.trust_list(tmp_path, status="ignore")        # rp_pid_trust_list
    pid = provider.issue(holder_jwk, vct=PID_DE, person=erika(), now=T0)

`TestPidProvider.create(issuer_url=...)` with another CA makes the untrusted twin."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from keys.signer import SoftwareSigner, generate_signer
from keys.x509 import ca_certificate, issuer_certificate, to_pem, x5c_value
from mobile_sdk_stub.dev_pid import PID_DE, pid_credential

PROVIDER_URL = "https://pid-provider.test"
YEAR = 365 * 86400


@dataclass(frozen=True)
class TestPidProvider:
    """A CA, an issuer key certified by it, and the provider's https identifier."""

    __test__ = False  # not a test class

    ca_signer: SoftwareSigner
    ca: x509.Certificate
    signer: SoftwareSigner
    leaf: x509.Certificate
    issuer_url: str

    @classmethod
    def create(cls, *, now: int, issuer_url: str = PROVIDER_URL) -> TestPidProvider:
        ca_signer, signer = generate_signer(), generate_signer()
        ca = ca_certificate(
            ca_signer,
            common_name="Test PID Provider CA",
            organization="tests",
            not_before=now - YEAR,
            not_after=now + 5 * YEAR,
        )
        leaf = issuer_certificate(
            ca_signer,
            ca,
            signer.public_key,
            common_name="Test PID Provider",
            issuer_url=issuer_url,
            not_before=now - YEAR,
            not_after=now + 4 * YEAR,
        )
        return cls(ca_signer, ca, signer, leaf, issuer_url)

    def trust_list(self, directory: Path, *, status: str = "ignore", vcts: Any = None) -> Path:
        """Write roots and the trust-list JSON into `directory`; returns the JSON's path."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "pid-roots.pem").write_bytes(to_pem([self.ca]))
        doc = {
            "providers": [
                {
                    "name": "Test PID Provider",
                    "vcts": vcts or ["urn:eudi:pid:1", "urn:eudi:pid:de:1"],
                    "issuers": [self.issuer_url],
                    "roots_pem": "pid-roots.pem",
                    "status": status,
                }
            ]
        }
        path = directory / "pid-trust-list.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        return path

    def issue(
        self,
        holder_jwk: dict[str, str],
        *,
        person: dict[str, Any],
        now: int,
        vct: str = PID_DE,
        valid_seconds: int = 90 * 86400,
        status: tuple[int, str] | None = None,
    ) -> str:
        """A PID for `person`, bound to `holder_jwk`."""
        return pid_credential(
            person,
            sign=self.signer.sign,
            kid=self.signer.jws_kid,
            x5c=[x5c_value(self.leaf)],
            issuer_url=self.issuer_url,
            holder_jwk=holder_jwk,
            vct=vct,
            now=now,
            exp=now + valid_seconds,
            status=status,
        )
