"""One module per URL: each has a ``layout`` function and, where it is interactive, ``register_callbacks``."""
