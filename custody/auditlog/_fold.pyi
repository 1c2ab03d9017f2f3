from typing import Any

def grant(
    grants: dict[str, list[Any]], hmaced: set[int], state: tuple[Any, ...], request: Any, rel: str, time: str, /
) -> None: ...
