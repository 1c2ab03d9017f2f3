"""One repository of each kind, over one KV: what the use cases are given."""

from __future__ import annotations

from dataclasses import dataclass

from custody.repo.accounts import AccountsRepo
from custody.repo.codes import CodesRepo
from custody.repo.denials import DenialsRepo
from custody.repo.drills import DrillsRepo
from custody.repo.grants import GrantsRepo
from custody.repo.keys import KeysRepo
from custody.repo.kv import KV
from custody.repo.marks import MarksRepo
from custody.repo.people import PeopleRepo
from custody.repo.prints import PrintsRepo
from custody.repo.reveals import RevealsRepo
from custody.repo.rotations import RotationsRepo
from custody.repo.waves import WavesRepo


@dataclass(frozen=True)
class Repository:
    kv: KV
    accounts: AccountsRepo
    codes: CodesRepo
    grants: GrantsRepo
    rotations: RotationsRepo
    reveals: RevealsRepo
    denials: DenialsRepo
    keys: KeysRepo
    waves: WavesRepo
    drills: DrillsRepo
    people: PeopleRepo
    prints: PrintsRepo
    marks: MarksRepo

    @classmethod
    def over(cls, kv: KV) -> Repository:
        return cls(kv=kv, accounts=AccountsRepo(kv), codes=CodesRepo(kv), grants=GrantsRepo(kv),
                   rotations=RotationsRepo(kv), reveals=RevealsRepo(kv), denials=DenialsRepo(kv), keys=KeysRepo(kv),
                   waves=WavesRepo(kv), drills=DrillsRepo(kv), people=PeopleRepo(kv), prints=PrintsRepo(kv),
                   marks=MarksRepo(kv))
