"""The check state machine (``monitoring.services.state.step``): attempts and soft/hard states,
the recovery threshold, Icinga's weighted flapping with hysteresis, and the maintenance and
unreachable overlays. A pure function: no database."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.services.state import FLAP_WEIGHTS, HISTORY_LENGTH, Runtime, flap_percent, step

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def run(statuses, runtime=None, *, max_attempts=3, recovery_threshold=2, **overlays):
    """The steps of a check fed ``statuses`` (a string of u/w/d/x or a list) one after another."""
    names = {"u": "up", "w": "warning", "d": "down", "x": "unknown"}
    current = runtime or Runtime()
    steps = []
    for n, status in enumerate(statuses):
        current = step(
            current,
            names.get(status, status),
            at=T0 + timedelta(minutes=n),
            max_attempts=max_attempts,
            recovery_threshold=recovery_threshold,
            **overlays,
        )
        steps.append(current)
    return steps


def test_a_new_check_whose_first_result_is_up_is_hard_up():
    (first,) = run("u")
    assert (first.state, first.state_type, first.attempt, first.consecutive_ok) == ("up", "hard", 0, 1)
    assert first.state_changed
    assert first.last_state_change_at == T0


def test_failures_are_soft_until_the_last_attempt_and_only_the_hard_one_alerts():
    steps = run("ddd", max_attempts=3)
    assert [(s.state, s.state_type, s.attempt) for s in steps] == [
        ("down", "soft", 1),
        ("down", "soft", 2),
        ("down", "hard", 3),
    ]
    assert [s.alert for s in steps] == [None, None, "problem"]
    assert [s.soft_problem for s in steps] == [True, True, False]


def test_every_further_hard_problem_result_tells_the_alert_service_again():
    steps = run("uddddd", max_attempts=2)
    assert [s.alert for s in steps] == [None, None, "problem", "problem", "problem", "problem"]
    assert steps[-1].attempt == 5


def test_a_single_attempt_check_is_hard_at_the_first_failure():
    (first,) = run("d", max_attempts=1)
    assert (first.state, first.state_type, first.alert) == ("down", "hard", "problem")


def test_the_problem_state_follows_the_status():
    assert run("w")[-1].state == "warning"
    assert run("d")[-1].state == "down"
    assert run("x")[-1].state == "unknown"


def test_a_status_the_machine_does_not_know_counts_as_unknown():
    (first,) = run(["exploded"])
    assert first.state == "unknown"
    assert first.history == "X"


def test_a_hard_problem_stays_hard_when_the_status_changes_to_another_problem():
    steps = run("dddw", max_attempts=3)
    assert (steps[-1].state, steps[-1].state_type, steps[-1].alert) == ("warning", "hard", "problem")


def test_a_soft_problem_that_clears_is_up_again_at_once_and_never_alerted():
    steps = run("uddu", max_attempts=3, recovery_threshold=3)
    assert [s.alert for s in steps] == [None, None, None, None]
    assert (steps[-1].state, steps[-1].state_type, steps[-1].attempt) == ("up", "hard", 0)


def test_after_a_hard_problem_the_check_recovers_after_the_threshold_of_successes_in_a_row():
    steps = run("dd" + "uuu", max_attempts=2, recovery_threshold=3)
    recovery = steps[2:]
    assert [(s.state, s.state_type) for s in recovery] == [("up", "soft"), ("up", "soft"), ("up", "hard")]
    assert [s.consecutive_ok for s in recovery] == [1, 2, 3]
    assert [s.alert for s in recovery] == [None, None, "recovered"]
    assert [s.recovered for s in recovery] == [False, False, True]


def test_a_failure_while_recovering_is_a_hard_problem_at_once():
    steps = run("dd" + "u" + "d", max_attempts=2, recovery_threshold=2)
    assert (steps[-1].state, steps[-1].state_type, steps[-1].attempt, steps[-1].alert) == ("down", "hard", 1, "problem")
    # … and the count of successes starts again.
    steps = run("uu", runtime=steps[-1], recovery_threshold=2)
    assert [s.alert for s in steps] == [None, "recovered"]


def test_a_recovery_threshold_of_one_recovers_on_the_first_success():
    steps = run("ddu", max_attempts=2, recovery_threshold=1)
    assert (steps[-1].state, steps[-1].state_type, steps[-1].alert) == ("up", "hard", "recovered")


def test_recovered_is_said_once_not_on_every_success_after():
    steps = run("dd" + "uuuu", max_attempts=2, recovery_threshold=2)
    assert [s.alert for s in steps[2:]] == [None, "recovered", None, None]


def test_the_history_keeps_the_last_21_status_codes_oldest_first():
    steps = run("u" * 20 + "wdx")
    assert steps[-1].history == "U" * 18 + "WDX"
    assert len(steps[-1].history) == HISTORY_LENGTH


def test_the_last_state_change_time_moves_only_when_the_state_changes():
    steps = run("uuudd", max_attempts=5)
    assert [s.last_state_change_at for s in steps] == [T0, T0, T0, T0 + timedelta(minutes=3), T0 + timedelta(minutes=3)]
    assert [s.state_changed for s in steps] == [True, False, False, True, False]


# --- flapping ----------------------------------------------------------------------------------


def test_flap_weights_run_from_0_8_for_the_oldest_transition_to_1_2_for_the_newest():
    assert len(FLAP_WEIGHTS) == 20
    assert FLAP_WEIGHTS[0] == pytest.approx(0.8)
    assert FLAP_WEIGHTS[-1] == pytest.approx(1.2)
    assert sum(FLAP_WEIGHTS) == pytest.approx(20)


def test_flap_percent_is_the_weighted_share_of_changes_over_twenty_transitions():
    assert flap_percent("U" * 21) == 0
    assert flap_percent("UD" * 10 + "U") == 100
    # One change, as the newest transition: 1.2 of 20; as the oldest: 0.8 of 20.
    assert flap_percent("U" * 20 + "D") == pytest.approx(6.0)
    assert flap_percent("D" + "U" * 20) == pytest.approx(4.0)
    # Any two different statuses are a change (warning → down too).
    assert flap_percent("U" * 19 + "WD") == pytest.approx(100 * (FLAP_WEIGHTS[-1] + FLAP_WEIGHTS[-2]) / 20, abs=0.01)


def test_a_short_history_counts_the_missing_transitions_as_unchanged():
    # Up, down, up: two changes, the newest two weights, out of all twenty.
    assert flap_percent("UDU") == pytest.approx(100 * (FLAP_WEIGHTS[-1] + FLAP_WEIGHTS[-2]) / 20, abs=0.01)
    steps = run("udud")
    assert not any(s.flapping for s in steps)


def test_flapping_starts_above_50_percent_and_stops_only_below_30_percent():
    steps = run("u" * 20 + "du" * 10 + "u" * 20, max_attempts=1, recovery_threshold=1)
    percents = [s.flap_percent for s in steps]
    started = next(i for i, s in enumerate(steps) if s.flapping)
    assert percents[started] > 50
    assert all(p <= 50 for p in percents[:started])
    assert steps[started].flapping_started
    stopped = next(i for i in range(started, len(steps)) if not steps[i].flapping)
    # Hysteresis: it stayed flapping while the share fell through 50 % down to 30 %.
    assert any(30 <= p <= 50 for p in percents[started:stopped])
    assert all(p >= 30 for p in percents[started:stopped])
    assert percents[stopped] < 30
    assert steps[stopped].flapping_stopped


def test_a_flapping_check_keeps_reporting_problems_but_does_not_recover_until_it_stops():
    steps = run("u" * 20 + "du" * 10 + "u" * 20, max_attempts=1, recovery_threshold=2)
    started = next(i for i, s in enumerate(steps) if s.flapping)
    stopped = next(i for i in range(started, len(steps)) if not steps[i].flapping)
    flapping = steps[started:stopped]
    assert any(s.alert == "problem" for s in flapping)
    assert not any(s.alert == "recovered" for s in flapping)
    # It stopped while up with enough successes in a row: that is the recovery.
    assert steps[stopped].state == "up" and steps[stopped].consecutive_ok >= 2
    assert steps[stopped].alert == "recovered"
    assert [s.alert for s in steps[stopped + 1 :]] == [None] * (len(steps) - stopped - 1)


def test_flapping_that_stops_while_down_does_not_recover():
    runtime = Runtime(
        state="down", state_type="hard", attempt=1, history="UD" * 10 + "U", flapping=True, flap_percent=100
    )
    steps = run("d" * 20, runtime=runtime, max_attempts=1)
    stopped = next(i for i, s in enumerate(steps) if not s.flapping)
    assert steps[stopped].flapping_stopped
    assert steps[stopped].alert == "problem"


# --- overlays -----------------------------------------------------------------------------------


def test_under_maintenance_the_state_is_maintenance_while_attempts_still_count():
    steps = run("uddd", max_attempts=3, maintenance=True)
    assert [s.state for s in steps] == ["maintenance"] * 4
    assert (steps[-1].state_type, steps[-1].attempt) == ("hard", 3)
    # The alert service still hears of it (it holds the alert back, and opens it when maintenance ends).
    assert steps[-1].alert == "problem"


def test_leaving_maintenance_shows_the_real_state_again():
    during = run("ddd", max_attempts=3, maintenance=True)
    (after,) = run("d", runtime=during[-1], max_attempts=3)
    assert (after.state, after.state_type, after.state_changed) == ("down", "hard", True)


def test_a_problem_while_a_parent_is_down_is_unreachable():
    steps = run("ddd", max_attempts=3, parent_down=True)
    assert [s.state for s in steps] == ["unreachable"] * 3
    assert steps[-1].alert == "problem"


def test_an_up_result_while_a_parent_is_down_is_up():
    (first,) = run("u", parent_down=True)
    assert first.state == "up"


def test_maintenance_wins_over_unreachable():
    (first,) = run("d", maintenance=True, parent_down=True)
    assert first.state == "maintenance"


def test_a_check_row_is_a_valid_runtime(db):
    from tests.monitoring.factories import CheckFactory

    check = CheckFactory(max_attempts=2)
    result = step(check, "down", at=T0, max_attempts=check.max_attempts, recovery_threshold=check.recovery_threshold)
    assert (result.state, result.state_type, result.attempt) == ("down", "soft", 1)
    result.apply_to(check)
    assert check.state == "down" and check.history == "D"
