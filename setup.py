"""The compiled parts of custody: the audit reader's line walk (custody/auditlog/_scan.c) and its fold of the
service's grant writes (custody/auditlog/_fold.c).

Everything else is in pyproject.toml. The extensions are optional: where they cannot be built (no C compiler),
custody installs without them and the audit reader does the same work in Python, with the same results, more slowly.
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"]

setup(
    ext_modules=[
        Extension(
            f"custody.auditlog.{name}", sources=[f"custody/auditlog/{name}.c"], optional=True, extra_compile_args=FLAGS
        )
        for name in ("_scan", "_fold")
    ]
)
