from django.db import models


class Metric(models.TextChoices):
    RESPONSE = "response", "Response"
    RESOLUTION = "resolution", "Resolution"


class ClockState(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELED = "canceled", "Canceled"


# A clock in one of these states still counts (or may count again) towards its target.
ACTIVE_CLOCK_STATES = (ClockState.RUNNING, ClockState.PAUSED)


class ClockEventKind(models.TextChoices):
    STARTED = "started", "Started"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    RETARGETED = "retargeted", "Target changed"
    WARNING = "warning", "Warning"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"
    STOPPED = "stopped", "Stopped"
    REOPENED = "reopened", "Reopened"
    CANCELED = "canceled", "Canceled"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"
