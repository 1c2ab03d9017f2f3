"""One repository of each kind, over one KV: what the use cases are given."""

from __future__ import annotations

from dataclasses import dataclass

from custody.repo.accounts import AccountsRepo
from custody.repo.codes import CodesRepo
from custody.repo.denials import DenialsRepo
from custody.repo.grants import GrantsRepo
from custody.repo.kv import KV
from custody.repo.reveals import RevealsRepo
from custody.repo.rotations import RotationsRepo


@dataclass(frozen=True)
class Repository:
    kv: KV
    accounts: AccountsRepo
    codes: CodesRepo
    grants: GrantsRepo
    rotations: RotationsRepo
    reveals: RevealsRepo
    denials: DenialsRepo

    @classmethod
    def over(cls, kv: KV) -> Repository:
        return cls(kv=kv, accounts=AccountsRepo(kv), codes=CodesRepo(kv), grants=GrantsRepo(kv),
                   rotations=RotationsRepo(kv), reveals=RevealsRepo(kv), denials=DenialsRepo(kv))
