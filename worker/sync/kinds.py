"""The three kinds of run bound to one job: what `Entity.run` and its siblings call.

A run's entity picks its kind (`entity.run(JobKinds(job))`), so `sync/engine.py` never
asks which kind of entity it holds, and the path of a run goes engine → entity →
here → its runner (`sync/scan.py`, `sync/catalogue_run.py`, `sync/sweep.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.db.schema import RunStatus
from worker.sync.catalogue_run import run_catalogue
from worker.sync.entities import Catalogue, Entity, ImageSweep
from worker.sync.job import Job
from worker.sync.scan import run_scan
from worker.sync.sweep import run_sweep


@dataclass(frozen=True)
class JobKinds:
    """`RunKinds` (sync/entities.py) for one run in progress."""

    job: Job

    def scan(self, entity: Entity) -> RunStatus:
        return run_scan(self.job, entity)

    def catalogue(self, catalogue: Catalogue) -> RunStatus:
        return run_catalogue(self.job, catalogue)

    def sweep(self, sweep: ImageSweep) -> RunStatus:
        return run_sweep(self.job, sweep)
