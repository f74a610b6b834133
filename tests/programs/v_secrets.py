"""Secrets passed as arguments, kept as attributes and dict keys: a recording
must show none of their values (names from the defaults and one from the plan)."""

USER = "alice-visible-user"
PASSWORD = "hunter2-password-value"
API_KEY = "AKIA-api-key-value"
TOKEN = "tok-token-value-7f3a"
PIN = "4921-pin-value"
HEADER = "Bearer-authorization-value"


class Client:
    def __init__(self, user, token):
        self.user = user
        self.token = token
        self.calls = 0

    def rotate(self, new_token):
        self.token = new_token
        self.calls += 1
        return self.calls


def login(user, password, api_key):
    ok = len(password) > 3 and len(api_key) > 3
    headers = {"Authorization": HEADER, "Accept": "text/plain"}
    return Client(user, TOKEN) if ok and headers else None


def unlock(client, pin):
    digits = len(pin)
    return {"user": client.user, "digits": digits}


if __name__ == "__main__":
    client = login(USER, PASSWORD, api_key=API_KEY)
    client.rotate(TOKEN[::-1].upper())
    print(unlock(client, PIN))
