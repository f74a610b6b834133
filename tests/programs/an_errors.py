"""An exception raised in an inner function, converted and re-raised above,
caught at the top; and a login whose exception message carries a password."""


class ConfigError(Exception):
    pass


def parse_port(text):
    return int(text)                          # the ValueError starts here


def describe(exc):
    return f"{type(exc).__name__}: {exc}"


def load(text):
    try:
        return parse_port(text)
    except ValueError as exc:
        raise ConfigError(describe(exc)) from exc


def login(user, password):
    if len(password) < 40:
        raise PermissionError(f"login failed for {user}: password={password} too short")
    return user


def main():
    try:
        load("80x")
    except ConfigError as exc:
        describe(exc)                         # (on 3.11, a call lets the raise see its exception)
    try:
        login("alice", "hunter2-secret-value")
    except PermissionError as exc:
        describe(exc)


if __name__ == "__main__":
    main()
