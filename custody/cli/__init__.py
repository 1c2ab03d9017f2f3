"""The ``custody`` command line: a thin client of the API, plus local commands (dev, serve, bootstrap, audit).

Layout: one module per command group, each a shell that parses, calls one thing and prints::

    main.py        the root group, the list of groups (COMMANDS) and main(argv), the one exit point
    dev.py         custody dev up|down            server.py    custody serve
    bootstrap.py   custody bootstrap              accounts.py  custody accounts add|list|show
    codes.py       custody codes deposit|status|rotate
    access.py      custody access request|approve|deny|review|reveal|list|show
    rotation.py    custody rotation sweep         audit.py     custody audit summary
    whoami.py      custody whoami
    evidence.py    custody evidence build|verify|sign|render|keygen
    common.py      --format, the API client, codes from a file or stdin, ACCOUNT/GRANT as URL segments
    output.py      JSON or text (tables; other people's text made safe for a terminal)
    settings.py    token, CUSTODY_ADDR, the caller's own Vault, read from the environment (no pydantic)
    client.py      the HTTP clients (httpx), of custody and of the caller's Vault
    unwrap.py      a reveal's checks of the wrapping token before it is unwrapped
    grant_text.py  a grant's whole story, as text

Adding a group (say ``custody inventory``):

1. write ``custody/cli/inventory.py`` with one ``@click.group() def inventory()`` and its commands; every command
   takes ``@fmt_option`` and prints through ``emit`` (JSON only on stdout with ``--format json``); errors are
   raised as ``custody.errors.CustodyError`` (with a hint), never printed or turned into exit codes here;
2. import in the module only what ``custody --help`` can afford (click, ``custody.cli.common``,
   ``custody.cli.output``): the HTTP client comes from ``common.client()``, anything heavier (use cases,
   pydantic, the audit reader) is imported inside the command body. ``tests/unit/test_cli_imports.py`` fails if
   ``--help`` or a client command starts importing the server side;
3. add the group's name and its module's name to ``COMMANDS`` in ``main.py`` (it is imported when used);
4. a command with its own exit code raises a ``click.ClickException`` subclass whose ``exit_code`` is that code,
   after printing its output (see ``rotation.Overdue``, exit 3).
"""
