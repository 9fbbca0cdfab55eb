"""What the run page shows and when, as plain data: view state, the plan of one poll tick, status text.

No Dash and no plotly here (a test checks it), so every decision of the live page is unit-testable; the
page module (:mod:`dashboard.pages.run`) turns these plans into components, figures and patches.
"""
