"""Run with -m: prints, then an exception leaves two planned functions unhandled."""
import sys


def validate(record):
    if "id" not in record:
        raise KeyError(f"record without id: {sorted(record)}")
    return record["id"]


def ingest(records):
    return [validate(r) for r in records]


if __name__ == "__main__":
    print("argv", sys.argv[1:])
    print(ingest([{"id": 1}, {"id": 2}]))
    ingest([{"id": 3}, {"name": "x"}])
