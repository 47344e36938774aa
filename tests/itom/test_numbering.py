import threading

import pytest
from django.db import connection

from itom.models import NumberSequence, next_number


@pytest.mark.django_db
def test_numbers_are_prefixed_zero_padded_and_increasing():
    assert next_number("INC") == "INC0000001"
    assert next_number("INC") == "INC0000002"
    assert next_number("CHG") == "CHG0000001"
    assert next_number("PRB", width=4) == "PRB0001"


@pytest.mark.django_db(transaction=True)
def test_concurrent_allocations_never_hand_out_the_same_number():
    """Eight threads, each with its own database connection, allocate at the same time."""
    results, errors = [], []
    start = threading.Barrier(8)

    def allocate():
        try:
            start.wait(timeout=10)
            for _ in range(10):
                results.append(next_number("RACE"))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert len(results) == 80
    assert len(set(results)) == 80
    assert NumberSequence.objects.get(prefix="RACE").last_value == 80
