"""The repository layer: custody's records in KV, typed, with check-and-set on every write.

``kv.py`` is the port (what custody needs of a KV v2 mount; ``custody.store.Store`` implements it for Vault),
``records.py`` the layout and encodings, and one module per kind of record. ``repository.py`` puts one of each over
one KV. Use cases see domain objects only: never a path, a record dict or a retry loop.
"""
