"""Where training runs and registered models live: the MLflow store, its registry, and the champion.

Default store: SQLite in archscore's per-user data folder (``$ARCHSCORE_HOME``, else
``$XDG_DATA_HOME/archscore``, else ``~/.local/share/archscore``) with artefacts beside it; a set
``MLFLOW_TRACKING_URI`` (a server, another database) wins. Moving the ``champion`` alias is done
under a lock file, so two trainings on one machine never judge against a champion that changes
under them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archscore.errors import ArchscoreError

CHAMPION = "champion"


def data_home() -> Path:
    env = os.environ.get("ARCHSCORE_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "archscore"


def tracking_uri(uri: str | None = None) -> str:
    """The store to use: ``uri``, else ``$MLFLOW_TRACKING_URI``, else SQLite in :func:`data_home`."""
    if uri:
        return uri
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    home = data_home()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'mlflow.db'}"


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise ArchscoreError("training and the model registry need MLflow: pip install 'archscore[train]'") from None
    return mlflow


def connect(uri: str | None = None, experiment: str = "archscore"):
    """Point MLflow at the store and experiment; returns the ``mlflow`` module and the store's URI."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow = _mlflow()
    uri = tracking_uri(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # The first use of a new SQLite store creates its tables (an alembic migration): two processes
    # doing that at once corrupt its version table, so the set-up runs under the store's lock.
    with registry_lock(uri):
        if mlflow.get_experiment_by_name(experiment) is None:
            location = None
            if uri.startswith("sqlite:///"):  # keep artefacts beside the database, not in the working folder
                location = (Path(uri[len("sqlite:///") :]).parent / "artifacts").as_uri()
            mlflow.create_experiment(experiment, artifact_location=location)
        mlflow.set_experiment(experiment)
    return mlflow, uri


@contextlib.contextmanager
def registry_lock(uri: str) -> Iterator[None]:
    """An exclusive lock (per store, across processes of this machine) around setting up the store and
    around reading and moving the champion alias."""
    folder = data_home() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(uri.encode()).hexdigest()[:16] + ".lock")
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


GATE = "gate."
"""Prefix of the tags that record a version's gate decision (``gate.decision``, ``gate.reason``,
``gate.new_score``, …): written by :func:`register_gated`, read by :func:`versions`."""


def gate_tags(gate: dict[str, object]) -> dict[str, str]:
    """The tags that record a gate decision (``{"decision": "promoted"}`` → ``{"gate.decision": "promoted"}``)."""
    return {f"{GATE}{k}": str(v) for k, v in gate.items()}


def register_gated(model_uri: str, name: str, gate: dict[str, object], promote: bool) -> str:
    """Register a model version *with* its gate decision (its tags, :func:`gate_tags`; one store call:
    no version ever exists without it), then move the champion alias to it when ``promote``. Call
    under :func:`registry_lock`. A kill between the two leaves a version marked promoted that is not
    champion: the alias, never a tag, decides what is served."""
    mlflow = _mlflow()
    version = str(mlflow.register_model(model_uri, name, tags=gate_tags(gate)).version)
    if promote:
        mlflow.MlflowClient().set_registered_model_alias(name, CHAMPION, version)
    return version


HOST_TAG, PID_TAG = "archscore.host", "archscore.pid"


def owner_tags() -> dict[str, str]:
    """Tags naming the process that runs a training, so a later one can tell a dead run from a live one."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def fail_stale_runs(experiment: str = "archscore", say=None) -> list[str]:
    """Mark FAILED the RUNNING runs of ``experiment`` whose training process (on this host)
    no longer exists: a training killed midway. Runs of other hosts are left alone (their
    processes cannot be checked from here). Returns the run ids marked."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    found = mlflow.get_experiment_by_name(experiment)
    if found is None:
        return []
    host = socket.gethostname()
    runs = client.search_runs(
        [found.experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'"
    )
    marked = []
    for run in runs:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and not _alive(int(pid)):
            reason = f"process {pid} on {host} ended without finishing the run"
            client.set_tag(run.info.run_id, "archscore.failed", reason)
            client.set_terminated(run.info.run_id, "FAILED")
            marked.append(run.info.run_id)
    if marked and say is not None:
        say(f"marked {len(marked)} run(s) of killed trainings FAILED: {', '.join(marked)}")
    return marked


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def aliased(name: str, alias: str = CHAMPION):
    """The registered version of model ``name`` that holds ``alias``; an :class:`ArchscoreError` naming
    both when there is none."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException as e:
        raise ArchscoreError(f"models:/{name}@{alias}: {e.message}") from None


def champion(name: str):
    """The registered version holding the ``champion`` alias of model ``name``, or ``None``."""
    try:
        return aliased(name, CHAMPION)
    except ArchscoreError:
        return None


@dataclass(frozen=True)
class Version:
    """One registered version as ``archscore models list`` shows it."""

    version: str
    aliases: tuple[str, ...]
    gate: dict[str, str]  # its gate tags without the prefix: decision, reason, new_score, …
    run_id: str


def versions(name: str) -> list[Version]:
    """Every registered version of model ``name``, oldest first, with its aliases and gate decision."""
    mlflow = _mlflow()
    client = mlflow.MlflowClient()
    found = client.search_model_versions(f"name = '{name}'")
    if not found:
        raise ArchscoreError(f"no registered model {name!r} in {mlflow.get_tracking_uri()}")
    aliases: dict[str, list[str]] = {}
    for alias, version in (client.get_registered_model(name).aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    return [
        Version(str(v.version), tuple(aliases.get(str(v.version), [])),
                {k[len(GATE):]: t for k, t in (v.tags or {}).items() if k.startswith(GATE)}, str(v.run_id))
        for v in sorted(found, key=lambda v: int(v.version))
    ]  # fmt: skip


def load_registered(uri: str):
    """The :class:`ScoringModel` of a registered model URI (``models:/NAME@ALIAS``, ``models:/NAME/3``)."""
    mlflow = _mlflow()
    from mlflow.exceptions import MlflowException

    from archscore.models.scoring import ScoringModel

    with tempfile.TemporaryDirectory(prefix="archscore-model-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        except MlflowException as e:
            raise ArchscoreError(f"cannot load {uri}: {e.message}") from None
        found = sorted(local.rglob("model.json"))
        if not found:
            raise ArchscoreError(f"{uri} is not an archscore model (no model.json in its artefacts)")
        return ScoringModel.load(found[0].parent)


def run_config(run_id: str) -> dict:
    """The training configuration a run logged (``config.json``)."""
    import json

    mlflow = _mlflow()
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="config.json", dst_path=tmp)
        return json.loads(Path(path).read_text())
