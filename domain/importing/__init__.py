"""Importing events from files: CSV and JSON Lines rows, then stored chunk by chunk.

The readers are pure (`rows`): they turn a file's lines into `(line, EventInput)` rows,
or `(line, RowError)` for a row that cannot become an event, where `line` is the
physical line the row starts on (the CSV header is line 1). `import_events`
(`pipeline`) then stores the rows one transaction per chunk: valid rows land, every
rejected row is reported with its line and reason, and events seen before count as
duplicates, so re-running a file (after a failure, say) is safe. In between, blocks of
rows are parsed column-wise (`columns`, `blocks`) by a reader thread or process
(`sources`).
"""

from domain.importing.columns import parse_block
from domain.importing.pipeline import (
    BLOCK,
    DEFAULT_CHUNK,
    ImportReport,
    Rejected,
    import_events,
)
from domain.importing.rows import (
    FileError,
    InvalidField,
    MalformedRow,
    MissingField,
    Row,
    RowError,
    Rows,
    encodes,
    read_csv,
    read_jsonl,
)
from domain.importing.sources import PROCESS_MIN_BYTES, READ_BUFFER, FileSource, ReaderFailed

__all__ = [
    "BLOCK", "DEFAULT_CHUNK", "PROCESS_MIN_BYTES", "READ_BUFFER", "FileError", "FileSource",
    "ImportReport", "InvalidField", "MalformedRow", "MissingField", "ReaderFailed",
    "Rejected", "Row", "RowError", "Rows", "encodes", "import_events", "parse_block",
    "read_csv", "read_jsonl",
]
