"""Reads stdin line by line and echoes it, numbered, with a count at the end."""
import sys


def echo(number, line):
    out = f"{number}: {line.rstrip(chr(10))}"
    print(out)
    return out


def main():
    count = 0
    for count, line in enumerate(sys.stdin, 1):
        echo(count, line)
    print(f"{count} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
