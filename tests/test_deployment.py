"""The deployment wiring agrees with the code: docker-compose.yml, the Dockerfile and the Procfile.

No database or broker is needed: these tests read the files, resolve compose's ``${...}``
variables the way compose does, and import the settings in a fresh interpreter with the
environment compose would give the containers.
"""

import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.http.request import split_domain_port, validate_host

from itom import env
from itom.celery_routes import QUEUES, TASK_ROUTES

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# What an operator must supply; compose refuses to start without them. The rest has defaults.
OPERATOR = {"SECRET_KEY": secrets.token_urlsafe(50), "POSTGRES_PASSWORD": "pg-password-for-tests"}
# Variables the app services may set that programs other than the settings read.
READ_ELSEWHERE = {"WEB_CONCURRENCY": "gunicorn's number of worker processes"}


# --- Reading the files --------------------------------------------------------------------------

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(Exception):
    """A ``${X:?message}`` whose variable is unset, as compose would refuse to start."""


def interpolate(text, environ):
    """Compose's interpolation: ``$$``, ``$X``, ``${X}``, ``${X:-d}``, ``${X-d}``, ``${X:?e}``, ``${X:+r}``."""

    def replace(match):
        if match["escaped"]:
            return "$"
        name, op, arg = match["braced"] or match["named"], match["op"], match["arg"]
        value = environ.get(name)
        usable = value is not None and not (op and op.startswith(":") and value == "")
        if op is None:
            return value or ""
        if op.endswith("-"):
            return value if usable else arg
        if op.endswith("?"):
            if not usable:
                raise MissingVariable(f"{name}: {arg}")
            return value
        return arg if usable else ""  # ":+" / "+"

    return _VARIABLE.sub(replace, text)


def resolve(node, environ):
    if isinstance(node, dict):
        return {key: resolve(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value, environ) for value in node]
    if isinstance(node, str):
        return interpolate(node, environ)
    return node


def raw_compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def load_compose(**environ):
    return resolve(raw_compose(), {**OPERATOR, **environ})


@pytest.fixture(scope="module")
def compose():
    return load_compose()


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def argv(command):
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def command_of(service):
    assert "command" in service, "each portal service names its command explicitly"
    return argv(service["command"])


def environment_of(service):
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        pairs = (item.partition("=") for item in environment)
        return {name: value for name, _, value in pairs}
    return {name: "" if value is None else str(value) for name, value in environment.items()}


def option(args, *names):
    """The value of the first of ``names`` in ``args`` (``--name value`` or ``--name=value``)."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def queues_of(args):
    value = option(args, "--queues", "-Q")
    return [] if value is None else [queue.strip() for queue in value.split(",") if queue.strip()]


def is_celery(args, subcommand):
    return args[:3] == ["celery", "-A", "itom"] and subcommand in args[3:]


def healthcheck_text(service):
    test = service.get("healthcheck", {}).get("test")
    assert test, "the service has a healthcheck"
    test = argv(test)
    assert test[0] in ("CMD", "CMD-SHELL"), test
    return " ".join(test[1:])


def settings_reads():
    """Every variable itom/settings.py reads, and those of them that are secrets (``X_FILE`` too)."""
    source = (ROOT / "itom" / "settings.py").read_text()
    calls = re.findall(r"env\.(string|boolean|integer|string_list|secret)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", source)
    names = {name for _, name in calls}
    secret_names = {name for reader, name in calls if reader == "secret"}
    return names, secret_names


def named_volume_mounts(service):
    """{target path: volume name} for the named volumes the service mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source"), volume.get("target")
        if source and not source.startswith((".", "/", "~")):
            mounts[target] = source
    return mounts


def settings_under(environment, tmp_path, script):
    """Run ``script`` after ``django.setup()`` in a fresh interpreter with exactly ``environment``."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "itom.settings",
        "ITOM_VAR_DIR": str(tmp_path),  # only moves the default paths; compose sets none of them
        **environment,
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{script}"],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def dockerfile_instructions():
    """[(INSTRUCTION, arguments)] with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    instructions = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def exec_form_or_shell(arguments):
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def procfile():
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = shlex.split(command)
    return entries


# --- Services and commands ----------------------------------------------------------------------


def test_compose_defines_the_database_broker_and_portal_services(services):
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_web_serves_the_wsgi_application_with_gunicorn_on_port_8000(services):
    web = services["web"]
    args = command_of(web)
    assert args[0] == "gunicorn"
    assert any(arg in ("itom.wsgi", "itom.wsgi:application") for arg in args), args
    assert option(args, "--bind", "-b") == "0.0.0.0:8000"
    assert any(str(port).endswith(":8000") for port in web.get("ports", [])), web.get("ports")


def test_the_worker_listens_on_every_queue_tasks_are_routed_to(services):
    args = command_of(services["worker"])
    assert is_celery(args, "worker"), args
    queues = set(queues_of(args))
    assert set(QUEUES) <= queues, f"the worker misses {set(QUEUES) - queues}"
    assert {route["queue"] for route in TASK_ROUTES.values()} <= queues


def test_beat_runs_the_database_scheduler(services):
    args = command_of(services["beat"])
    assert is_celery(args, "beat"), args
    assert option(args, "--scheduler", "-S") == BEAT_SCHEDULER


def test_migrate_applies_the_migrations_once_and_is_not_restarted(services):
    migrate = services["migrate"]
    args = command_of(migrate)
    assert args[:3] == ["python", "manage.py", "migrate"], args
    assert "--noinput" in args or "--no-input" in args
    assert str(migrate.get("restart", "no")) in ("no", "on-failure"), "a finished one-shot must not run again"


def test_there_is_exactly_one_beat(services):
    beats = [
        name
        for name, service in services.items()
        if "command" in service and is_celery(argv(service["command"]), "beat")
    ]
    assert beats == ["beat"]
    assert int(services["beat"].get("deploy", {}).get("replicas", 1)) == 1
    assert "scale" not in services["beat"]
    embedded = [name for name, service in services.items() if {"-B", "--beat"} & set(argv(service.get("command", [])))]
    assert embedded == [], "a worker started with --beat is a second scheduler"


# --- Environment --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_gets_the_database_and_broker(services, name):
    environment = environment_of(services[name])
    postgres = environment_of(services["postgres"])

    database = urlsplit(environment["DATABASE_URL"])
    assert database.scheme in ("postgres", "postgresql")
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"] == OPERATOR["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == postgres["POSTGRES_DB"]

    broker = urlsplit(environment["CELERY_BROKER_URL"])
    assert broker.scheme in ("redis", "rediss")
    assert (broker.hostname, broker.port or 6379) == ("redis", 6379)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_app_service_gets_the_operators_secret_key(services, name):
    assert environment_of(services[name])["SECRET_KEY"] == OPERATOR["SECRET_KEY"]


@pytest.mark.parametrize("missing", sorted(OPERATOR))
@pytest.mark.parametrize("value", [None, ""])
def test_compose_refuses_to_start_without_the_secret_key_or_database_password(missing, value):
    environ = {name: secret for name, secret in OPERATOR.items() if name != missing}
    if value is not None:
        environ[missing] = value
    with pytest.raises(MissingVariable, match=missing):
        resolve(raw_compose(), environ)


def test_every_variable_given_to_the_app_services_is_one_the_settings_read(services):
    names, secret_names = settings_reads()
    assert {"DATABASE_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS", "TIME_ZONE"} <= names
    assert {"SECRET_KEY", "EMAIL_HOST_PASSWORD"} <= secret_names
    known = names | {f"{name}_FILE" for name in secret_names} | set(READ_ELSEWHERE)
    for name in APP_SERVICES:
        unknown = set(environment_of(services[name])) - known
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_the_compose_defaults_are_accepted_by_the_settings(services, tmp_path):
    script = (
        "import json; from django.conf import settings; from django.core.management import call_command\n"
        "call_command('check')\n"
        "db = settings.DATABASES['default']\n"
        "print(json.dumps({'engine': db['ENGINE'], 'host': db['HOST'], 'broker': settings.CELERY_BROKER_URL,"
        " 'media': str(settings.MEDIA_ROOT), 'hosts': settings.ALLOWED_HOSTS, 'debug': settings.DEBUG}))"
    )
    result = settings_under(environment_of(services["web"]), tmp_path, script)
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["host"] == "postgres"
    assert loaded["broker"] == "redis://redis:6379/0"
    assert loaded["debug"] is False
    assert loaded["hosts"], "an empty ALLOWED_HOSTS answers every request with 400"
    assert loaded["media"] in named_volume_mounts(services["web"])


def test_the_documented_production_settings_pass_check_deploy(tmp_path):
    production = {
        "ALLOWED_HOSTS": "portal.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://portal.example.com",
        "HTTPS_ONLY": "true",
        "TRUST_X_FORWARDED_PROTO": "true",
    }
    environment = environment_of(load_compose(**production)["services"]["web"])
    assert {name: environment[name] for name in production} == production, "compose passes them through"
    script = "from django.core.management import call_command\ncall_command('check', deploy=True)"
    result = settings_under(environment, tmp_path, script)
    assert result.returncode == 0, result.stdout + result.stderr
    warnings = set(re.findall(r"\((\w+\.[WE]\d+)\)", result.stdout + result.stderr))
    # W021 (HSTS preload) is an opt-in: HSTS_PRELOAD=true once the site is ready for the list.
    assert warnings <= {"security.W021"}, result.stdout + result.stderr


# --- Health, start-up order and data --------------------------------------------------------------


def test_healthchecks_watch_the_database_broker_web_server_and_worker(services):
    assert "pg_isready" in healthcheck_text(services["postgres"])
    assert "redis-cli ping" in healthcheck_text(services["redis"])
    web = healthcheck_text(services["web"])
    assert "python" in web and "/healthz" in web and "8000" in web
    assert "curl" not in web and "wget" not in web, "python:3.11-slim has neither"
    worker = healthcheck_text(services["worker"])
    assert "celery -A itom inspect ping" in worker
    assert "$HOSTNAME" in worker, "ping this container's worker, not any worker"


def web_healthcheck_code(services):
    test = argv(services["web"]["healthcheck"]["test"])
    assert test[:3] == ["CMD", "python", "-c"], test
    return test[3]


@pytest.mark.parametrize(
    "allowed_hosts",
    ["portal.example.com", "portal.example.com,10.0.0.5", " , portal.example.com", ".example.com", "*", None],
)
def test_the_web_healthcheck_asks_healthz_with_a_host_the_settings_allow(services, monkeypatch, allowed_hosts):
    if allowed_hosts is None:
        monkeypatch.delenv("ALLOWED_HOSTS", raising=False)
    else:
        monkeypatch.setenv("ALLOWED_HOSTS", allowed_hosts)
    # What the settings make of the variable (itom.env.string_list and its default).
    allowed = env.string_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
    requests = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout=None: requests.append(request))
    exec(web_healthcheck_code(services), {})  # noqa: S102 - the healthcheck's own code, from our compose file

    [request] = requests
    url = urlsplit(request.full_url)
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", 8000, "/healthz")
    domain, _ = split_domain_port(request.get_header("Host"))  # as HttpRequest.get_host() does
    assert domain and validate_host(domain, allowed), (request.get_header("Host"), allowed)


def test_the_web_healthcheck_fails_when_healthz_answers_503(services, monkeypatch):
    def unavailable(request, timeout=None):
        raise urllib.error.HTTPError(request.full_url, 503, "Service Unavailable", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", unavailable)
    with pytest.raises(urllib.error.HTTPError):
        exec(web_healthcheck_code(services), {})  # noqa: S102


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_web_worker_and_beat_wait_for_a_healthy_database_and_broker_and_finished_migrations(services, name):
    depends_on = services[name].get("depends_on")
    assert isinstance(depends_on, dict), "conditions need the long form of depends_on"
    conditions = {service: spec.get("condition") for service, spec in depends_on.items()}
    assert conditions.get("postgres") == "service_healthy"
    assert conditions.get("redis") == "service_healthy"
    assert conditions.get("migrate") == "service_completed_successfully"


def test_migrate_waits_for_a_healthy_database(services):
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_data_and_media_live_on_named_volumes(compose, services):
    declared = set(compose.get("volumes") or {})
    postgres = named_volume_mounts(services["postgres"])
    redis = named_volume_mounts(services["redis"])
    assert postgres.get("/var/lib/postgresql/data") in declared
    assert redis.get("/data") in declared
    media_root = environment_of(services["web"])["MEDIA_ROOT"]
    for name in ("web", "worker"):
        assert named_volume_mounts(services[name]).get(media_root) in declared, name


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker", "beat"])
def test_long_running_services_restart_after_a_crash(services, name):
    assert services[name].get("restart") in ("always", "unless-stopped", "on-failure")


# --- The image --------------------------------------------------------------------------------


def test_the_image_runs_gunicorn_as_an_unprivileged_user():
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and instructions[0][1].startswith("python:3.11-slim")
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    start = [exec_form_or_shell(arguments) for keyword, arguments in instructions if keyword in ("CMD", "ENTRYPOINT")]
    assert start, "the image has a default command"
    default = " ".join(" ".join(command) for command in start)
    assert "gunicorn" in default and "itom.wsgi" in default and "0.0.0.0:8000" in default
    exposed = " ".join(arguments for keyword, arguments in instructions if keyword == "EXPOSE").split()
    assert "8000" in exposed or "8000/tcp" in exposed


def test_the_image_collects_static_files_at_build_time_without_keeping_a_secret_key():
    instructions = dockerfile_instructions()
    collect = [
        i for i, (keyword, arguments) in enumerate(instructions) if keyword == "RUN" and "collectstatic" in arguments
    ]
    assert collect, "static files are collected into the image"
    assert "SECRET_KEY=" in instructions[collect[0]][1], "collectstatic needs a key to import the settings"
    persisted = " ".join(arguments for keyword, arguments in instructions if keyword in ("ENV", "ARG"))
    assert "SECRET_KEY" not in persisted, "a key baked into the image is a key every copy shares"
    assert any(keyword == "RUN" and "requirements.txt" in arguments for keyword, arguments in instructions)


def test_the_image_leaves_out_the_local_environment_and_secrets():
    patterns = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "var", ".git", ".env"} <= patterns
    assert "**/__pycache__" in patterns or "__pycache__" in patterns


# --- make run -----------------------------------------------------------------------------------


def test_the_procfile_runs_web_worker_and_beat_on_every_queue():
    entries = procfile()
    assert {"web", "worker", "beat"} <= set(entries)
    assert entries["web"][0] == "gunicorn" and "itom.wsgi" in entries["web"]
    assert is_celery(entries["worker"], "worker")
    missing = set(QUEUES) - set(queues_of(entries["worker"]))
    assert not missing, f"the Procfile's worker misses {missing}"
    assert is_celery(entries["beat"], "beat")
    assert option(entries["beat"], "--scheduler", "-S") == BEAT_SCHEDULER
    assert [name for name, args in entries.items() if is_celery(args, "beat") or "-B" in args] == ["beat"]
