"""The web console at ``/ui/``: another shell over the use cases, beside the API (``custody.api``) and the CLI.

People sign in through Vault (``auth``), the session is their Vault token sealed in a cookie (``session``, ``seal``),
and each page calls one use case with that token (``views``), so a page shows what the person's Vault policy allows,
exactly as the API answers. Pages are built escaped by construction (``html``, ``layout``, ``pages``), served with a
strict Content-Security-Policy (``answers``), with their CSS and JavaScript from custody itself (``static/``).
"""
