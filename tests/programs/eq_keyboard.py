"""A KeyboardInterrupt raised in a planned function, never caught."""


def inner():
    raise KeyboardInterrupt


def outer():
    print("about to be interrupted", flush=True)
    inner()


if __name__ == "__main__":
    outer()
