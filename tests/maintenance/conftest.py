"""The sweeps run in this process on SQLite and local storage, as the pipeline steps' tests do."""

from tests.workers.conftest import local_env as local_env
