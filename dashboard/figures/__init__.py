"""Plotly figures of the dashboard, one module per figure family, and :class:`dash.Patch` live deltas.

Each live figure has a ``*_figure`` builder (first render, or after the user changes what is shown) and a
``*_patch`` function that appends or replaces only the new data. Both derive their trace list from the
same helper, so trace ``i`` of a patch always addresses trace ``i`` of the built figure. The arithmetic
behind them lives in :mod:`dashboard.analysis`.
"""
