"""The inventory: which PyPI projects an organisation publishes, from where, how, and by which accounts.

Pure parsing and detection (``yamlsafe``, ``shell``, ``refs``, ``tools``, ``github``, ``gitlab``, ``projects``,
``pypi``, ``report``, ``render``) read only the text they are given; the use cases (``scanning``, ``importing``,
``reporting``) read files and talk to PyPI and custody through ``files``, ``pypi_client`` and ``custody_view``.
Nothing here ever executes anything from a scanned repository.
"""
