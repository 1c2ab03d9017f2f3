def line_stats(buf: bytes | bytearray | memoryview, n: int, /) -> tuple[int, int]: ...
def walk(
    buf: bytes | bytearray | memoryview,
    n: int,
    markers: tuple[bytes, ...],
    fixed: tuple[bytes, ...],
    auth: bytes,
    staging: bytes,
    request_span: int,
    time_end: int,
    /,
) -> tuple[int, int, int, list[tuple[int, int, int]]]: ...
def mark(
    buf: bytes | bytearray | memoryview,
    n: int,
    plain: tuple[bytes, ...],
    prefix: bytes,
    suffixes: tuple[bytes, ...],
    simd: bool = True,
    /,
) -> list[tuple[int, int]]: ...
def ascii(buf: bytes | bytearray | memoryview, n: int, /) -> bool: ...
