"""The one compiled part of custody: the audit reader's line walk (custody/auditlog/_scan.c).

Everything else is in pyproject.toml. The extension is optional: where it cannot be built (no C compiler), custody
installs without it and the audit reader walks lines in Python, with the same results, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "custody.auditlog._scan",
            sources=["custody/auditlog/_scan.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
        )
    ]
)
