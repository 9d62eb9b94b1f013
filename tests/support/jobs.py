"""Run periodic jobs in a test, as `buergerid-issuer worker` would, at the app's clock:

    run_jobs(app, "plate_indexes")   # builds the plate indexes that are due, now

The job functions themselves (issuer/worker/jobs.py) run, outside the runner's once-per-period
bookkeeping, so a test can run a job again after changing data. A job step that failed fails
the test with its codes.
"""

from __future__ import annotations

from typing import Any

from issuer.worker import jobs


def run_jobs(app: Any, *names: str) -> dict[str, jobs.JobResult]:
    """Run the named jobs (all when none named) on the app's database at its clock's time."""
    context = jobs.JobContext(
        settings=app.state.settings,
        keys=app.state.keys,
        sessions=app.state.session_factory,
        now=app.state.clock.now(),
    )
    results = {}
    for job in jobs.select_jobs(list(names) or None):
        result = job.run(context)
        assert not result.errors, (job.name, result.errors)
        results[job.name] = result
    return results
