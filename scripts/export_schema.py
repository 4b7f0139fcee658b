"""`tierwise export-schema`: write the GraphQL schema (SDL) that the code defines."""

from __future__ import annotations

from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def sdl() -> str:
    from api.schema import schema

    return schema.as_str().rstrip() + "\n"


def register(subparsers) -> None:
    parser = subparsers.add_parser("export-schema", help="write schema.graphql from the code")
    parser.add_argument("--out", type=Path, default=SCHEMA_FILE)
    parser.set_defaults(handler=run)


def run(args) -> int:
    args.out.write_text(sdl())
    print(f"wrote {args.out}")
    return 0
