"""Run the whole story: tellers (threads), then asyncio, then the audit."""

from .accounts import Account, Bank
from .async_part import run_async
from .audit import audit
from .workers import run_tellers

# Each source can cover its own transfers whatever order the tellers take
# them in, so exactly one transfer fails (dave's) and the output is stable.
TRANSFERS = [
    ("alice", "bob", 30),
    ("bob", "carol", 20),
    ("carol", "alice", 10),
    ("dave", "alice", 500),
    ("alice", "carol", 25),
]

ASYNC_REQUESTS = [
    ("deposit", "dave", 60),
    ("transfer", "bob", "dave", 15),
    ("deposit", "carol", 5),
]


def main():
    bank = Bank(
        [
            Account("alice", 100, pin="4921"),
            Account("bob", 50, pin="1234"),
            Account("carol", 20, pin="8086"),
            Account("dave", 40, pin="0007"),
        ],
        api_token="tok_live_3f9a1c7e5b",
    )

    for request_id, src, dst, amount, error in run_tellers(bank, TRANSFERS):
        status = "ok" if error is None else f"FAILED: {error}"
        print(f"transfer {request_id}: {src} -> {dst} {amount} {status}")

    for line in run_async(bank, ASYNC_REQUESTS):
        print(f"async {line}")

    total = audit(bank)
    for owner, account in bank.accounts.items():
        print(f"balance {owner}: {account.balance}")
    print(f"audited total: {total}")


if __name__ == "__main__":
    main()
