"""The review console (`dlp console`): incidents reviewed, released and explained in a browser.

A server-rendered Starlette application over the CLI's state directory, served by uvicorn:
`app` (composition and the guard), `web` (templates, page and form checks), `views` (the
pages), `api` (JSON for scripts), `charts` (inline SVG), `accounts` (users, roles, sessions,
tokens) and `server` (listening, TLS). Needs the `console` extra: ``pip install 'dlp[console]'``.
"""
