"""The wire contracts: every shape that crosses a process boundary, in one torch-free package.

* :mod:`.config`: the run specification (``TrainConfig``, ``DNetConfig``), stored with every run;
* :mod:`.records`: the per-epoch record the trainer reports and the API streams (``EpochRecord``);
* :mod:`.api`: the HTTP API's request and response models (``RunCreate``, ``RunRead``, ``DatasetRead``,
  ``EpochPage``, ``ErrorBody`` …), declared by the backend's routes, parsed by the dashboard, and built
  by the tests' fake backend.

These modules import pydantic and the standard library only (``tests/test_import_boundaries.py``).
"""
