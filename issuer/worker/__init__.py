"""The job runner (`buergerid-issuer worker`): the periodic work of the service.

- `jobs`: what runs and how often (expiry, automatic renewal, retention, idempotency purge,
  status-list and trust-bundle republication, plate-index builds, key rotation); each job
  calls the services' public functions and is idempotent.
- `locks`: one runner at a time per job across every worker process and machine: a
  PostgreSQL advisory lock, on SQLite a lease row.
- `runner`: runs each job once per period, records every run (table `worker_jobs`), audits
  what changed, logs failures without personal data and retries them with backoff.
"""
