"""Enrolment waves in KV: ``waves/<name>``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from custody.domain.events import Event
from custody.domain.models import Principal
from custody.domain.waves import Wave
from custody.errors import NotFound
from custody.repo.documents import Documents
from custody.repo.kv import KV
from custody.repo.records import WAVES, wave_path


@dataclass(frozen=True)
class WavesRepo:
    kv: KV

    @property
    def docs(self) -> Documents[Wave]:
        return Documents(self.kv, Wave)

    def get(self, name: str) -> Wave:
        found = self.docs.read(wave_path(name))
        if found is None:
            raise NotFound(f"unknown wave {name}", hint="see `custody rollout status`")
        return found.value

    def create(self, wave: Wave, who: Principal, now: datetime) -> Wave:
        return self.docs.create(wave_path(wave.name), wave, Event.wave_added, who, now, f"wave {wave.name}")

    def all(self) -> list[Wave]:
        names = [k for k in self.kv.list_keys(WAVES) if not k.endswith("/")]
        return sorted(self.docs.all([wave_path(n) for n in names]), key=lambda w: (w.created_at, w.name))
