"""Server configuration: the one `Settings` class, the only issuer module reading the environment.

Build it in the entry point (`cli.py`) or in a test and pass it down; nothing reads it at import.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from keys.storage import make_private_dir

log = logging.getLogger(__name__)

DEV_PASSPHRASE_FILE = "dev-passphrase"
DEV_SERVER_SECRET_FILE = "dev-server-secret"
MIN_SERVER_SECRET_CHARS = 32
STATUS_LIST_SIZE = 2**17


class Settings(BaseSettings):
    """Every knob of the issuer (and the wallet API, which shares the database and keys)."""

    model_config = SettingsConfigDict(env_prefix="BUERGERID_", extra="forbid")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    # empty: sqlite:///<data_dir>/buergerid.db (filled in by the validator below)
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = ""
    # None: a development passphrase file in data_dir (0600, with a warning); refused in production
    key_passphrase: SecretStr | None = None
    # keys stored Idempotency-Key answers (middleware.py); None: a development file in data_dir
    # (0600, with a warning); refused in production
    server_secret: SecretStr | None = None

    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    max_import_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_import_line_bytes: int = Field(default=8 * 1024, ge=256)
    import_batch_rows: int = Field(default=2000, ge=1)

    # argon2id for API client secrets (RFC 9106 second recommended option by default)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    client_rotation_grace_seconds: int = Field(default=24 * 3600, ge=0)
    # a duplicate POST waits this long for the first one's answer before 409 in progress
    idempotency_wait_seconds: float = Field(default=10.0, ge=0, le=60)

    # argon2id of new key files (keys/storage/file.py; defaults = keys.DEFAULT_KDF)
    key_kdf_time_cost: int = Field(default=3, ge=1, le=64)
    key_kdf_memory_kib: int = Field(default=64 * 1024, ge=8)
    key_kdf_parallelism: int = Field(default=4, ge=1, le=64)
    # first key of a new tenant: signs this long, verifiable this much longer
    tenant_key_sign_days: int = Field(default=365, ge=1)
    tenant_key_verify_extra_days: int = Field(default=400, ge=1)

    # where key rings live (keys/storage/): "database" (the shared database: ring state,
    # encrypted key files, token handles; no key on an app server's disk) or "directory"
    # (data_dir/keys/<ring>/). None: database in production (required there), directory else
    key_store: Literal["database", "directory"] | None = None
    # publication: root ring under keys_dir, freshness of signed artefacts
    root_key_ring: str = "root"
    trust_bundle_fresh_seconds: int = Field(default=24 * 3600, ge=60)
    trust_bundle_exp_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    status_list_ttl_seconds: int = Field(default=3600, ge=60)
    status_list_exp_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    status_list_refresh_seconds: int = Field(default=6 * 3600, ge=60)
    plate_index_exp_seconds: int = Field(default=24 * 3600, ge=60)
    # entries of a new status list; 2^17 hides each credential in a large herd (smaller: tests)
    status_list_size: int = Field(default=STATUS_LIST_SIZE, ge=16, le=2**24, multiple_of=8)

    # wallet: what one grant, one resident may mint in a period, devices per resident
    wallet_max_credentials_per_grant: int = Field(default=30, ge=1)
    wallet_max_credentials_per_resident: int = Field(default=100, ge=1)
    wallet_credential_period_days: int = Field(default=30, ge=1, le=366)
    wallet_max_devices_per_resident: int = Field(default=20, ge=1)

    # failed authentications (per client address, per API key id) across every worker and
    # instance, counted in the database; beyond them 429 without any argon2 work
    auth_failures_per_address: int = Field(default=20, ge=1)
    auth_failures_per_key: int = Field(default=10, ge=1)
    auth_failure_window_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    # argon2 verifications running at once in one process (each holds argon2_memory_kib),
    # and how many may wait for a turn (and for how long) before 503 authentication_busy
    auth_max_concurrent_hashes: int = Field(default=2, ge=1, le=64)
    auth_max_waiting_hashes: int = Field(default=64, ge=0)
    auth_max_wait_seconds: float = Field(default=10.0, gt=0, le=60)
    # a caller already at its failure limit gets its 429 after this pause (a flood that ignores
    # Retry-After is slowed to one request per pause per connection; waiting costs no thread)
    auth_refusal_delay_seconds: float = Field(default=0.5, ge=0, le=5)
    # peers whose X-Forwarded-For is believed (IP addresses or networks, comma-separated in
    # the environment); empty: the TCP peer is the client, the header is ignored
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    # enforcement handhelds: one-time enrolment codes, device access tokens (private_key_jwt)
    enrolment_code_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=300, le=90 * 24 * 3600)
    enforcement_token_seconds: int = Field(default=300, ge=30, le=3600)

    # TLS served by uvicorn itself (`make run`, or no terminating proxy): both files or neither.
    # dev_tls: development only; a local CA and server certificate made under data_dir/dev-tls
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    dev_tls: bool = False

    # the issuing CA (<issuing_ca_dir> of the key store: rows of the database, or keys_dir/
    # <issuing_ca_dir>; buergerid-keys ca): x5c chains of issuer-signed JWTs. "when_available":
    # x5c when the signing key has a certificate (issued on first use when the CA key is a file
    # key under key_passphrase or in the configured token); "required": no credential or status
    # list JWT without one (HAIP 1.0); "off": never
    issuing_ca_dir: str = Field(default="ca", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    credential_x5c: Literal["off", "when_available", "required"] = "when_available"

    # wallet API (docs/wallet.md): the deployment's floor; a tenant may require more
    # dpop: RFC 9449 sender-constrained tokens; "optional" binds a token when a proof is sent
    wallet_dpop: Literal["optional", "required"] = "optional"
    # wallet attestation (OAuth attestation-based client authentication) at the token endpoint
    wallet_attestation: Literal["optional", "required"] = "optional"
    # key attestations (OpenID4VCI 1.0 Appendix D) on proof keys
    wallet_key_attestation: Literal["optional", "required"] = "optional"
    # PEM file of the wallet providers' root certificates; attestations chain (x5c) to one
    wallet_trust_anchors: Path | None = None
    # key_storage levels accepted when key attestations are required (empty: any level)
    wallet_key_storage: list[str] = Field(default_factory=list, max_length=8)
    # the Credential Issuer's display name in OpenID4VCI metadata
    wallet_display_name: str = Field(default="buergerid", min_length=1, max_length=100)

    # Prometheus metrics (issuer/metrics.py): served at /metrics on this listener only, never
    # on the service's port; no port: no metrics served. metrics_dir: the workers' metric
    # files under `serve --workers N` (emptied at start; default a fresh temporary directory)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_dir: Path | None = None
    # a `Server-Timing: app;dur=<ms>` header on every answer: the time from the request's
    # arrival in the app (outermost middleware) to the start of its answer, waiting for a
    # worker thread included; for measuring (bench/portal.py), off by default (it tells
    # every client how long the server worked)
    server_timing: bool = False
    # `serve --workers N`: a worker that does not answer the serving process's ping within
    # this many seconds is restarted (uvicorn's default of 5 s restarts busy, healthy workers)
    worker_healthcheck_seconds: int = Field(default=30, ge=1, le=600)

    # the job runner (`buergerid-issuer worker`, issuer/worker/): seconds between runs of a job,
    # by name (issuer.worker.jobs.JOBS lists the names and defaults), e.g. {"plate_indexes": 30}
    worker_intervals: dict[str, int] = Field(default_factory=dict)
    # a new signing key is made this long before the active one stops signing (must exceed
    # the trust bundle's freshness period, so handhelds know the key before it signs)
    key_rotation_lead_seconds: int = Field(default=30 * 24 * 3600, ge=3600)
    # stored Idempotency-Key answers are purged after this long
    idempotency_keep_hours: int = Field(default=24, ge=1, le=24 * 90)
    # a job that has not succeeded for this many of its periods shows as stale in /readyz
    worker_stale_periods: int = Field(default=3, ge=2, le=100)

    # relying party (docs/relying-party.md): OpenID4VP requests are signed with the access
    # certificate <rp_dir> of the key store (database rows, or keys_dir/<rp_dir>; issued by
    # the issuing CA on first use when its key is reachable); wallets name us
    # x509_hash:<certificate hash> or x509_san_dns:<host>
    rp_dir: str = Field(default="relying-party", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    rp_client_id_prefix: Literal["x509_hash", "x509_san_dns"] = "x509_hash"
    rp_transaction_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    # anonymous login starts (the portal's start and login pages, the relying party's login,
    # Bürger-ID and authorization pages: each stores a transaction) per client address (an
    # IPv6 client: its /64) and window, across every worker and instance; beyond it 429
    rp_starts_per_address: int = Field(default=30, ge=1)
    rp_start_window_seconds: int = Field(default=60, ge=1, le=3600)
    # presentations a municipal application (one API client) starts per window of
    # rp_start_window_seconds, across every worker and instance; beyond it 429
    rp_client_starts_per_window: int = Field(default=600, ge=1)
    # JSON file naming the PID providers whose credentials are accepted, with their root
    # certificates or keys (docs/relying-party.md); None: only this deployment's credentials
    rp_pid_trust_list: Path | None = None
    # development only: trust the PID provider `make run` makes under data_dir
    rp_dev_pid_provider: bool = False
    # fetching a PID provider's status list: time limit and size bound
    rp_status_fetch_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # citizen portal (docs/citizen-portal.md): the secret the payment provider signs its
    # callbacks with (HMAC-SHA256); None: derived from server_secret, for the development
    # provider, which production does not offer
    portal_payment_secret: SecretStr | None = None

    # PKCS#11 (an HSM, or SoftHSM2): with a token label, new keys (tenant rings, the root
    # ring, rotations of rings whose keys are there) are made in the token, and rings whose
    # keys are PKCS#11 keys sign there. The user PIN comes from BUERGERID_PKCS11_PIN or from
    # the file BUERGERID_PKCS11_PIN_FILE (mode 0600), never from an argument. Module: the
    # vendor's library (default Debian's SoftHSM2, keys.storage.pkcs11.DEFAULT_MODULE)
    pkcs11_module: Path | None = None
    pkcs11_token_label: str | None = Field(default=None, min_length=1, max_length=32)
    pkcs11_pin: SecretStr | None = None
    pkcs11_pin_file: Path | None = None

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    sqlite_busy_timeout_ms: int = Field(default=10_000, ge=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_trusted_proxies(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value or ())
        networks = []
        for item in items:
            text = str(item).strip()
            if text:  # ValueError (refused settings) for anything but an address or network
                networks.append(str(ipaddress.ip_network(text, strict=False)))
        return tuple(networks)

    @model_validator(mode="after")
    def _defaults_and_production_guards(self) -> Settings:
        implicit_database = not self.database_url
        if implicit_database:
            self.database_url = f"sqlite:///{self.data_dir / 'buergerid.db'}"
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        if not self.public_base_url:
            scheme = "https" if self.serves_tls else "http"
            self.public_base_url = f"{scheme}://{self.host}:{self.port}"
        if self.server_secret is not None and (
            len(self.server_secret.get_secret_value()) < MIN_SERVER_SECRET_CHARS
        ):
            raise ValueError(f"server_secret needs at least {MIN_SERVER_SECRET_CHARS} characters")
        if self.key_rotation_lead_seconds <= self.trust_bundle_fresh_seconds:
            raise ValueError("key_rotation_lead_seconds must exceed trust_bundle_fresh_seconds")
        if self.pkcs11_pin is not None and self.pkcs11_pin_file is not None:
            raise ValueError("pkcs11_pin and pkcs11_pin_file: one or the other")
        if self.pkcs11_token_label is not None and (
            self.pkcs11_pin is None and self.pkcs11_pin_file is None
        ):
            raise ValueError("pkcs11_token_label needs pkcs11_pin or pkcs11_pin_file")
        if self.key_store is None:
            self.key_store = "database" if self.environment == "production" else "directory"
        if self.environment == "production":
            if self.key_store != "database":
                raise ValueError("production keeps key rings in the database (key_store)")
            if self.key_passphrase is None and self.pkcs11_token_label is None:
                raise ValueError("key_passphrase (or a PKCS#11 token) is required in production")
            if self.server_secret is None:
                raise ValueError("server_secret is required in production (no dev fallback)")
            if not self.public_base_url.startswith("https://"):
                # OpenID4VCI 1.0 §12.2.1 (Credential Issuer Identifier) and every endpoint URL
                raise ValueError("public_base_url must be https in production")
            if self.dev_tls:
                raise ValueError("dev_tls is for development only")
            if self.rp_dev_pid_provider:
                raise ValueError("rp_dev_pid_provider is for development only")
            if self.database_url.startswith("sqlite"):
                log.warning("production_on_sqlite")
            if self.status_list_size < STATUS_LIST_SIZE:
                raise ValueError(f"status_list_size below {STATUS_LIST_SIZE} weakens herd privacy")
            if implicit_database:
                raise ValueError("database_url is required in production (no SQLite fallback)")
        if "required" in (self.wallet_attestation, self.wallet_key_attestation) and (
            self.wallet_trust_anchors is None
        ):
            raise ValueError("required wallet or key attestations need wallet_trust_anchors")
        if self.key_store == "database" and self.database_url.startswith("sqlite"):
            # the issuer changes rings (bundle seq, a new tenant's ring) while its own SQLite
            # transaction holds the database's only write lock: key rings need PostgreSQL there
            raise ValueError("key_store=database needs PostgreSQL (SQLite: key_store=directory)")
        return self

    @property
    def serves_tls(self) -> bool:
        """Whether uvicorn terminates TLS itself (configured files or dev_tls)."""
        return self.dev_tls or self.tls_certfile is not None

    @property
    def keys_dir(self) -> Path:
        """Where the per-tenant key rings live: data_dir/keys/<ags>/."""
        return self.data_dir / "keys"


def resolve_key_passphrase(settings: Settings) -> str:
    """The key-file passphrase: configured, or a generated development one (0600, warned).
    Empty in production with a PKCS#11 token and no passphrase: file keys then refuse
    (`passphrase_required`), token keys need none."""
    if settings.key_passphrase is not None:
        return settings.key_passphrase.get_secret_value()
    if settings.environment == "production" and settings.pkcs11_token_label is not None:
        return ""
    if settings.environment == "production":  # the validator refuses this; belt and braces
        raise ValueError("key_passphrase is required in production")
    path = settings.data_dir / DEV_PASSPHRASE_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    make_private_dir(settings.data_dir)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    log.warning("dev_passphrase_generated", extra={"file": path.name})
    return value


def resolve_pkcs11_pin(settings: Settings) -> str:
    """The PKCS#11 user PIN: `pkcs11_pin`, or the first line of `pkcs11_pin_file`.

    ValueError when there is none, or the file cannot be read or is readable by others."""
    if settings.pkcs11_pin is not None:
        return settings.pkcs11_pin.get_secret_value()
    if settings.pkcs11_pin_file is None:
        raise ValueError("no PKCS#11 PIN configured")
    try:
        if settings.pkcs11_pin_file.stat().st_mode & 0o077:
            raise ValueError("pkcs11_pin_file is readable by others (chmod 0600)")
        text = settings.pkcs11_pin_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError("pkcs11_pin_file cannot be read") from exc
    pin = text.strip()
    if not pin:
        raise ValueError("pkcs11_pin_file is empty")
    return pin


def resolve_server_secret(settings: Settings) -> bytes:
    """The server secret: configured, or a generated development one (0600, warned)."""
    if settings.server_secret is not None:
        return settings.server_secret.get_secret_value().encode()
    if settings.environment == "production":  # the validator refuses this; belt and braces
        raise ValueError("server_secret is required in production")
    path = settings.data_dir / DEV_SERVER_SECRET_FILE
    if not path.exists():
        make_private_dir(settings.data_dir)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
            log.warning("dev_server_secret_generated", extra={"file": path.name})
    value = path.read_text(encoding="utf-8").strip()
    if len(value) < MIN_SERVER_SECRET_CHARS:
        raise ValueError(f"{path.name} holds no usable server secret")
    return value.encode()
