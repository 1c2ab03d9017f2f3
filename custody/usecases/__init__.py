"""The use cases, one module per concern, each a small class over one ``Context`` and one ``Authorizer``.

A use case says who may (``authz``), what must hold (``custody.domain``), and what changes (``custody.repo``);
``suite.py`` builds them all. A new feature adds a module here with its class, a field in ``UseCases``, and a router
in ``custody.api``.
"""
