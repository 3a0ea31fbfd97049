"""The `chatapi` command: `migrate`, `serve`, `openapi`, `asyncapi`, `vapid-key`, ..."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from chatapi import __version__, backup, logs
from chatapi.settings import ConfigError, Settings, get_settings, new_vapid_key


def alembic_config(settings: Settings) -> object:
    from alembic.config import Config

    candidates = [Path.cwd(), Path(__file__).resolve().parents[2]]
    for base in candidates:
        if (base / "alembic" / "env.py").is_file():
            cfg = (
                Config(str(base / "alembic.ini")) if (base / "alembic.ini").is_file() else Config()
            )
            cfg.set_main_option("script_location", str(base / "alembic"))
            cfg.set_main_option("sqlalchemy.url", settings.resolved_database_url.replace("%", "%%"))
            cfg.attributes["configure_logger"] = False
            return cfg
    raise ConfigError("alembic/ migrations not found; run chatapi from the project folder.")


def migrate(settings: Settings, revision: str = "head") -> None:
    """Upgrade the database to `revision` (Alembic)."""
    from alembic import command

    _ensure_sqlite_dir(settings)
    command.upgrade(alembic_config(settings), revision)  # type: ignore[arg-type]


def _ensure_sqlite_dir(settings: Settings) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def serve(settings: Settings, *, host: str, port: int, workers: int, reload: bool) -> None:
    import uvicorn

    _ = settings.signing_key  # refuse to start without a secret in production
    if workers > 1 and not settings.redis_url:
        # Each worker would reach only its own sockets: messages would not cross them.
        raise ConfigError(
            f"--workers {workers} needs REDIS_URL: without Redis each worker delivers only "
            "to its own sockets. Set REDIS_URL or run one worker."
        )
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        "chatapi.main:app",
        host=host,
        port=port,
        workers=workers if not reload else None,
        reload=reload,
        loop="auto",
        http="auto",
        ws_max_size=settings.ws_max_frame_bytes,
        # Chat frames are small JSON: per-socket compression would cost CPU on every
        # delivery (each socket compresses separately) for little saved bandwidth.
        ws_per_message_deflate=False,
        proxy_headers=True,
        log_level=settings.log_level,
        log_config=logs.logging_config(settings),
        timeout_graceful_shutdown=5,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chatapi", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("migrate", help="upgrade the database schema to the latest revision")
    m.add_argument("revision", nargs="?", default="head")
    s = sub.add_parser("serve", help="serve the API, WebSockets and the web client")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--reload", action="store_true", help="restart on code changes (development)")
    s.add_argument("--migrate", action="store_true", help="migrate the database first")
    b = sub.add_parser("backup", help="back up the database and media files into a new folder")
    b.add_argument("path", type=Path)
    r = sub.add_parser("restore", help="restore a backup into an empty instance")
    r.add_argument("path", type=Path)
    sub.add_parser("openapi", help="print the OpenAPI document as JSON")
    sub.add_parser("asyncapi", help="print the AsyncAPI document of the WebSocket as JSON")
    sub.add_parser("vapid-key", help="print a new VAPID private key (for VAPID_PRIVATE_KEY)")
    args = parser.parse_args(argv)
    if args.command == "vapid-key":  # needs no configuration
        print(new_vapid_key())
        return 0

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        settings = get_settings()
        logs.configure(settings)
        if args.command == "migrate":
            migrate(settings, args.revision)
        elif args.command == "serve":
            if args.migrate:
                migrate(settings)
            serve(
                settings, host=args.host, port=args.port, workers=args.workers, reload=args.reload
            )
        elif args.command in ("backup", "restore"):
            if args.command == "backup":
                summary = backup.backup(settings, args.path)
                print(f"chatapi: backed up {summary.line()} into {args.path}")
            else:
                summary = backup.restore(settings, args.path, migrate=migrate)
                print(f"chatapi: restored {summary.line()} from {args.path}")
        elif args.command == "openapi":
            import json

            from chatapi.main import create_app

            print(json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True))
        elif args.command == "asyncapi":
            import json

            from chatapi.realtime.asyncapi import asyncapi_document

            print(json.dumps(asyncapi_document(version=__version__), indent=2, sort_keys=True))
    except ConfigError as exc:
        print(f"chatapi: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a variable that does not parse, e.g. OIDC_PROVIDERS
        print(f"chatapi: configuration error: {exc}", file=sys.stderr)
        return 2
    except backup.BackupError as exc:
        print(f"chatapi: {args.command} refused: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
