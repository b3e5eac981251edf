import time


def wait_until(
    predicate, *, timeout: float = 30.0, interval: float = 0.1, message: str = "", describe=None
):
    """Poll `predicate` until it returns something truthy; fail with `message` on timeout
    (and what `describe()` says about the state then, when given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    found = f"\n{describe()}" if describe else ""
    raise AssertionError((message or f"condition not met within {timeout}s") + found)
