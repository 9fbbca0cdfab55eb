"""Harnesses shared by the tests and the benchmarks, importable without ``tests/`` on ``sys.path``.

* ``live_stack``: a real local stack (redis-server, Celery worker processes, the API under uvicorn);
* ``sse``: a minimal Server-Sent Events reader for the API's event streams;
* ``datasets``: tiny image datasets (files, zip archives) and their upload through the API.
"""
