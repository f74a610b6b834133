"""An unhandled exception raised through two planned functions, chained with `raise ... from`."""


class ConfigError(Exception):
    pass


def parse(text):
    return int(text)


def load(text):
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(f"cannot load {text!r}") from exc


def run(items):
    return [load(item) for item in items]


if __name__ == "__main__":
    print("loading")
    print(run(["1", "2"]))
    run(["3", "four", "5"])
    print("never printed")
