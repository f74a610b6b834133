"""An unhandled ValueError raised three planned functions deep, after some work."""


def validate(item):
    if item == 3:
        raise ValueError(f"bad item {item}")
    return item


def process(items):
    return [validate(item) for item in items]


def main():
    print(process([1, 2]), flush=True)
    process([1, 2, 3, 4])
    print("not reached")


if __name__ == "__main__":
    main()
