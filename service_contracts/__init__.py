"""The services' shared vocabulary: Redis keys, the task and queue names, settings field types.

Used by the API (``backend``), the training workers (``worker``), the dashboard's and the launcher's
settings (``stack``), never by the ML engine (``difficultynet``), whose words stop at its wire contracts
(``difficultynet.contracts``). Torch-free and service-library-free: a plain vocabulary, so the backend
never has to import the worker to know a key (``tests/test_import_boundaries.py``).

* :mod:`.protocol`: task name ``worker.train``, queue ``gpu``, Redis key helpers, epoch stream ids;
* :mod:`.settings_types`: pydantic field types shared by every process's ``*Settings`` (``OptionalToken``).
"""
