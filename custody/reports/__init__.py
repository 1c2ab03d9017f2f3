"""Reports rendered from what the API answers (plain dicts): Markdown and self-contained HTML. Standard library
only, so the command line can render them without loading the server side."""
