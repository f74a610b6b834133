"""An object whose state changes in methods, in nested methods, and from outside."""


class Counter:
    def __init__(self, start):
        self.value = start
        self.history = []

    def bump(self, by=1):
        self.value += by
        self.history.append(by)

    def bump_twice(self):
        self.label = "twice"
        self.bump()
        self.bump()

    def reset(self):
        del self.label
        self.value = 0

    def read(self):
        return self.value


class Slotted:
    __slots__ = ("x",)

    def __init__(self):
        self.x = 1

    def set(self, x):
        self.x = x


if __name__ == "__main__":
    c = Counter(10)
    c.bump(5)
    c.bump_twice()
    c.value = 100          # changed from outside any method
    c.read()
    c.reset()
    s = Slotted()
    s.set(2)
    print(c.value, s.x)
